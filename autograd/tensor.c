/* placeholder while the engine is being written */
int ef_autograd_placeholder;
