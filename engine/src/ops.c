/* ops.c — in progress */
