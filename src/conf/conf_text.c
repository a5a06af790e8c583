/*
 * The text of a configuration file before libconfuse sees it: read whole
 * (bounded), and with its comments taken out (line numbers kept).
 */
#include "conf/conf_text.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *conf_text_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	size_t cap = 0, n = 0;
	char *buf = NULL, *bigger;
	int err = 0;

	if (!fp)
		return NULL;
	for (;;) {
		/* Room for at least one more byte and the NUL. */
		if (cap - n < 2) {
			if (cap >= CONF_FILE_MAX) {
				err = EFBIG;
				break;
			}
			cap = cap ? 2 * cap : 4096;
			bigger = realloc(buf, cap);
			if (!bigger) {
				err = ENOMEM;
				break;
			}
			buf = bigger;
		}
		errno = 0;
		n += fread(buf + n, 1, cap - n - 1, fp);
		if (ferror(fp)) {
			err = errno ? errno : EIO; /* EISDIR for a directory */
			break;
		}
		if (feof(fp))
			break;
	}
	fclose(fp);
	if (err) {
		free(buf);
		errno = err;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Copies a quoted string from in[*i] (the opening quote) through its
 * closing quote, or to the end; a backslash always takes the next byte with
 * it, which is how libconfuse reads both quote styles. Returns the number
 * of newlines copied. */
static unsigned copy_quoted(const char *in, size_t len, size_t *i, char *out, size_t *o)
{
	char quote = in[*i];
	unsigned lines = 0;

	out[(*o)++] = in[(*i)++];
	while (*i < len) {
		char ch = in[(*i)++];

		out[(*o)++] = ch;
		lines += ch == '\n';
		if (ch == '\\' && *i < len) {
			lines += in[*i] == '\n';
			out[(*o)++] = in[(*i)++];
		} else if (ch == quote) {
			break;
		}
	}
	return lines;
}

/* Skips a comment from in[*i] ("/" "*") through its end, copying only its
 * newlines. Returns -1 if it never ends. */
static int skip_block_comment(const char *in, size_t len, size_t *i, char *out, size_t *o,
			      unsigned *line)
{
	for (*i += 2; *i + 1 < len; (*i)++) {
		if (in[*i] == '*' && in[*i + 1] == '/') {
			*i += 2;
			return 0;
		}
		if (in[*i] == '\n') {
			out[(*o)++] = '\n';
			(*line)++;
		}
	}
	return -1;
}

/*
 * libconfuse 3.3 counts lines wrongly after a comment (a '#' line adds
 * three), and refuses a comment inside a { } list. So comments are removed
 * here, before it sees the text, keeping every newline so line numbers stay
 * true: '#' outside quotes to the end of the line, and, at the start of a
 * token, "//" to the end of the line and "/" "*" to "*" "/". Inside an
 * unquoted value such as a path, '/' is data, as for libconfuse.
 * Returns the copy (caller frees), or NULL: out of memory, or *open_line
 * is the line of a comment that never ends.
 */
char *conf_text_strip_comments(const char *in, size_t len, size_t *outlen, unsigned *open_line)
{
	char *out = malloc(len + 1);
	size_t i = 0, o = 0;
	unsigned line = 1;
	bool token_start = true;

	*open_line = 0;
	while (out && i < len) {
		char ch = in[i];
		bool slash = token_start && ch == '/' && i + 1 < len;

		if (ch == '"' || ch == '\'') {
			line += copy_quoted(in, len, &i, out, &o);
			token_start = true; /* a closing quote ends the token */
		} else if (ch == '#' || (slash && in[i + 1] == '/')) {
			while (i < len && in[i] != '\n')
				i++;
		} else if (slash && in[i + 1] == '*') {
			unsigned start = line;

			if (skip_block_comment(in, len, &i, out, &o, &line) < 0) {
				*open_line = start;
				free(out);
				return NULL;
			}
		} else {
			line += ch == '\n';
			token_start = strchr(" \t\r\n={}(),+", ch) != NULL;
			out[o++] = in[i++];
		}
	}
	if (out) {
		out[o] = '\0';
		*outlen = o;
	}
	return out;
}

