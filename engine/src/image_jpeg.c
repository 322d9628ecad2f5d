/* image_jpeg.c — in progress */
