/* parallel.c — in progress */
