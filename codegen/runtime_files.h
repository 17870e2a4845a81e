/* runtime_files.h — the runtime headers compiled into cnncc (tools/embed.c generates the table)
 * and copied into each output folder as the model needs them. */
#ifndef CN_RUNTIME_FILES_H
#define CN_RUNTIME_FILES_H

#include <stddef.h>

typedef struct cn_runtime_file {
  const char *name;
  const unsigned char *data;
  size_t size;
} cn_runtime_file;

extern const cn_runtime_file cn_runtime_files[];
extern const size_t cn_runtime_file_count;

#endif
