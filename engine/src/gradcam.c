/* gradcam.c — in progress */
