/*
 * libFuzzer target for ChannelData (RFC 8656 section 12.4) and the framing
 * of a TCP stream of STUN and ChannelData messages (section 12.5).
 *
 * The input is parsed as one ChannelData datagram, then fed as a stream
 * twice: in one piece, and in chunks of sizes drawn from the input. Both
 * must cut the same frames, and every frame must satisfy the framing
 * invariants. Violations end in __builtin_trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stun/channel.h"
#include "stun/msg.h"
#include "stun/stun.h"

#define FUZZ_ASSERT(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* Largest frame: a STUN message of 20 + 0xFFFC bytes. */
#define FRAME_MAX (STUN_HDR_LEN + 0xFFFC)
#define CHUNK_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a stream split into: frames, their lengths folded into a hash,
 * and whether it ended on an invalid frame start. */
struct frames {
	size_t count;
	size_t consumed;
	uint32_t hash;
	bool invalid;
};

static void frames_add(struct frames *f, size_t fl)
{
	f->count++;
	f->consumed += fl;
	f->hash = (f->hash ^ (uint32_t)fl) * 16777619u;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool frames_equal(const struct frames *a, const struct frames *b)
{
	return a->count == b->count && a->consumed == b->consumed && a->hash == b->hash &&
	       a->invalid == b->invalid;
}

/* A complete frame as turn_frame_length cut it. */
static void check_frame(const uint8_t *p, size_t fl)
{
	struct turn_chandata cd;
	uint16_t first = be16(p), len = be16(p + 2);

	FUZZ_ASSERT(fl >= 4 && fl <= FRAME_MAX);
	if ((first & 0xC000) == 0) {
		FUZZ_ASSERT(fl == STUN_HDR_LEN + (size_t)len && len % 4 == 0);
		FUZZ_ASSERT(stun_msg_is_stun(p, fl));
		return;
	}
	FUZZ_ASSERT((first & 0xC000) == 0x4000);
	FUZZ_ASSERT(fl == TURN_CHANDATA_HDR_LEN + pad4(len));
	FUZZ_ASSERT(turn_chandata_is_chandata(p, fl));
	if (turn_chandata_parse(p, fl, &cd) == 0) {
		FUZZ_ASSERT(cd.channel >= TURN_CHANNEL_MIN && cd.channel <= TURN_CHANNEL_MAX);
		FUZZ_ASSERT(cd.len == len && cd.data == p + 4);
	} else {
		FUZZ_ASSERT(first < TURN_CHANNEL_MIN || first > TURN_CHANNEL_MAX);
	}
}

/* Reference: the whole input is in memory, frames are cut in place. */
static void frame_whole(const uint8_t *data, size_t size, struct frames *f)
{
	size_t off = 0, fl;

	*f = (struct frames){0};
	while (off < size) {
		enum turn_frame_result r = turn_frame_length(data + off, size - off, &fl);

		if (r == TURN_FRAME_INVALID) {
			f->invalid = true;
			return;
		}
		if (r == TURN_FRAME_NEED_MORE || fl > size - off)
			return;
		check_frame(data + off, fl);
		frames_add(f, fl);
		off += fl;
	}
}

/* A receiver's buffer, fed in chunks. */
struct stream {
	uint8_t buf[FRAME_MAX + CHUNK_MAX];
	size_t len;
	struct frames f;
};

static void stream_feed(struct stream *s, const uint8_t *p, size_t n)
{
	size_t fl;

	if (s->f.invalid)
		return;
	FUZZ_ASSERT(s->len + n <= sizeof(s->buf));
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	for (;;) {
		enum turn_frame_result r = turn_frame_length(s->buf, s->len, &fl);

		if (r == TURN_FRAME_INVALID) {
			s->f.invalid = true;
			return;
		}
		if (r == TURN_FRAME_NEED_MORE) {
			FUZZ_ASSERT(s->len < 4);
			return;
		}
		if (fl > s->len)
			return;
		check_frame(s->buf, fl);
		frames_add(&s->f, fl);
		memmove(s->buf, s->buf + fl, s->len - fl);
		s->len -= fl;
	}
}

/* Chunk sizes from a xorshift generator seeded by the input: mostly small
 * pieces, sometimes large ones. */
static size_t next_chunk(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	if (x % 8 == 0)
		return 1 + (x >> 8) % CHUNK_MAX;
	return 1 + (x >> 8) % 64;
}

static void frame_chunked(const uint8_t *data, size_t size, struct stream *s, bool bytewise)
{
	uint32_t state = 2166136261u ^ (uint32_t)size;

	for (size_t i = 0; i < size && i < 4; i++)
		state = (state ^ data[i]) * 16777619u;
	state |= 1;
	s->f = (struct frames){0};
	s->len = 0;
	for (size_t off = 0; off < size;) {
		size_t c = bytewise ? 1 : next_chunk(&state);

		if (c > size - off)
			c = size - off;
		stream_feed(s, data + off, c);
		off += c;
	}
}

static void check_datagram(const uint8_t *data, size_t size)
{
	struct turn_chandata cd;
	uint8_t out[TURN_CHANDATA_HDR_LEN + 0x10000];
	long n;

	if (turn_chandata_parse(data, size, &cd) < 0)
		return;
	FUZZ_ASSERT(turn_chandata_is_chandata(data, size));
	FUZZ_ASSERT(cd.data == data + 4 && (size_t)cd.len + 4 <= size);
	/* Building it again gives the same bytes, padding aside. */
	n = turn_chandata_build(out, sizeof(out), cd.channel, cd.data, cd.len, false);
	FUZZ_ASSERT(n == (long)cd.len + 4 && memcmp(out, data, (size_t)n) == 0);
	n = turn_chandata_build(out, sizeof(out), cd.channel, cd.data, cd.len, true);
	FUZZ_ASSERT(n >= 4 && n % 4 == 0 && n - (long)cd.len - 4 < 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct stream s;
	struct frames whole;

	check_datagram(data, size);
	frame_whole(data, size, &whole);
	frame_chunked(data, size, &s, false);
	FUZZ_ASSERT(frames_equal(&whole, &s.f));
	FUZZ_ASSERT(whole.invalid || s.len == size - whole.consumed);
	if (size <= 1024) {
		frame_chunked(data, size, &s, true);
		FUZZ_ASSERT(frames_equal(&whole, &s.f));
	}
	return 0;
}
