/* image.c — in progress */
