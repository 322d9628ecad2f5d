/* image_tiff.c — in progress */
