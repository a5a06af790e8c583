/*
 * Bounds-checked big-endian reader and writer over caller-owned buffers.
 *
 * Every byte turnd reads from the network goes through struct rbuf
 * (STYLE.md rule 7). A read past the end never touches memory: it returns 0
 * (or NULL for views) and sets the sticky `err` flag, so a parser can do a
 * run of reads and check once.
 */
#ifndef TURND_UTIL_RBUF_H
#define TURND_UTIL_RBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

static inline void rbuf_init(struct rbuf *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = false;
}

static inline size_t rbuf_left(const struct rbuf *r)
{
	return r->err ? 0 : r->len - r->off;
}

static inline bool rbuf_need(struct rbuf *r, size_t n)
{
	if (r->err || r->len - r->off < n) {
		r->err = true;
		return false;
	}
	return true;
}

static inline uint8_t rbuf_u8(struct rbuf *r)
{
	if (!rbuf_need(r, 1))
		return 0;
	return r->p[r->off++];
}

static inline uint16_t rbuf_u16(struct rbuf *r)
{
	if (!rbuf_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)((r->p[r->off] << 8) | r->p[r->off + 1]);
	r->off += 2;
	return v;
}

static inline uint32_t rbuf_u32(struct rbuf *r)
{
	if (!rbuf_need(r, 4))
		return 0;
	const uint8_t *q = r->p + r->off;
	r->off += 4;
	return ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
}

/* A view of the next n bytes, or NULL (and err set) if fewer remain. */
static inline const uint8_t *rbuf_view(struct rbuf *r, size_t n)
{
	if (!rbuf_need(r, n))
		return NULL;
	const uint8_t *v = r->p + r->off;
	r->off += n;
	return v;
}

static inline void rbuf_copy(struct rbuf *r, void *dst, size_t n)
{
	const uint8_t *v = rbuf_view(r, n);
	if (v)
		memcpy(dst, v, n);
	else
		memset(dst, 0, n);
}

static inline void rbuf_skip(struct rbuf *r, size_t n)
{
	(void)rbuf_view(r, n);
}

/* Writer: a write that does not fit sets `err` and writes nothing. */
struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool err;
};

static inline void wbuf_init(struct wbuf *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->err = false;
}

static inline bool wbuf_room(struct wbuf *w, size_t n)
{
	if (w->err || w->cap - w->len < n) {
		w->err = true;
		return false;
	}
	return true;
}

static inline void wbuf_u8(struct wbuf *w, uint8_t v)
{
	if (wbuf_room(w, 1))
		w->p[w->len++] = v;
}

static inline void wbuf_u16(struct wbuf *w, uint16_t v)
{
	if (!wbuf_room(w, 2))
		return;
	w->p[w->len++] = (uint8_t)(v >> 8);
	w->p[w->len++] = (uint8_t)v;
}

static inline void wbuf_u32(struct wbuf *w, uint32_t v)
{
	if (!wbuf_room(w, 4))
		return;
	w->p[w->len++] = (uint8_t)(v >> 24);
	w->p[w->len++] = (uint8_t)(v >> 16);
	w->p[w->len++] = (uint8_t)(v >> 8);
	w->p[w->len++] = (uint8_t)v;
}

static inline void wbuf_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (n && wbuf_room(w, n)) {
		memcpy(w->p + w->len, src, n);
		w->len += n;
	}
}

static inline void wbuf_zero(struct wbuf *w, size_t n)
{
	if (n && wbuf_room(w, n)) {
		memset(w->p + w->len, 0, n);
		w->len += n;
	}
}

/* Overwrite a u16 already written at offset off (for length fields). */
static inline void wbuf_set_u16(struct wbuf *w, size_t off, uint16_t v)
{
	if (w->err || off + 2 > w->len) {
		w->err = true;
		return;
	}
	w->p[off] = (uint8_t)(v >> 8);
	w->p[off + 1] = (uint8_t)v;
}

#endif
