/* model.c — in progress */
