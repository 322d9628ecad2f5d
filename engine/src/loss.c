/* loss.c — in progress */
