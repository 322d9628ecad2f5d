/* image_bmp.c — in progress */
