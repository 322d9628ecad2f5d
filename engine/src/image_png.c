/* image_png.c — in progress */
