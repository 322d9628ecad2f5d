/* optim.c — in progress */
