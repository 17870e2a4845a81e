/* verify.h — cnncc --verify (tools/verify.c): the emitted C parsed by libclang for the target. */
#ifndef CN_TOOLS_VERIFY_H
#define CN_TOOLS_VERIFY_H

#include <stdbool.h>
#include <stdio.h>

/* Whether this cnncc was built with libclang. */
bool cn_verify_available(void);

/* Parses c_path for `target` (a cn_target) at -Wall -Wextra -Wpedantic; prints every
 * diagnostic to `out`; true when there is none. */
bool cn_verify_file(const char *c_path, int target, FILE *out);

#endif
