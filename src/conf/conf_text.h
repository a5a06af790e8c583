/*
 * The text of a configuration file before libconfuse sees it (conf_text.c).
 */
#ifndef TURND_CONF_CONF_TEXT_H
#define TURND_CONF_CONF_TEXT_H

#include <stddef.h>

/* Bigger than any sane configuration; stops a mistaken path such as
 * /dev/zero from eating memory. */
#define CONF_FILE_MAX (16u << 20)

/* The whole file, NUL-terminated (caller frees), or NULL with errno set
 * (EFBIG beyond CONF_FILE_MAX). */
char *conf_text_read(const char *path, size_t *len);

/* A copy of in without its comments, every newline kept so that line
 * numbers stay true. Returns the copy (caller frees), or NULL: out of
 * memory, or *open_line set to the line of a comment that never ends. */
char *conf_text_strip_comments(const char *in, size_t len, size_t *outlen, unsigned *open_line);

#endif
