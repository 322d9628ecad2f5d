/* net.c — in progress */
