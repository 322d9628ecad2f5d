/* safetensors.c — in progress */
