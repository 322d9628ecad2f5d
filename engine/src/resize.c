/* resize.c — in progress */
