/*
 * Unit tests for src/stun/channel.c: ChannelData parsing and building
 * (RFC 8656 section 12.4), and TCP framing (section 12.5) with the stream
 * split at every boundary, as SECURITY.md asks.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "stun/channel.h"
#include "stun/msg.h"
#include "stun/stun.h"
#include "testutil.h"

/* ---- ChannelData ---- */

START_TEST(test_parse_valid)
{
	static const uint8_t msg[] = {0x40, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
	struct turn_chandata cd;

	ck_assert_int_eq(turn_chandata_parse(msg, sizeof(msg), &cd), 0);
	ck_assert_uint_eq(cd.channel, 0x4001);
	ck_assert_uint_eq(cd.len, 5);
	ck_assert_ptr_eq(cd.data, msg + 4);
	/* The header says 5 bytes follow: 4 bytes alone are short. */
	ck_assert_int_eq(turn_chandata_parse(msg, 4, &cd), -1);
	/* Length 0 is a valid, empty message. */
	ck_assert_int_eq(turn_chandata_parse((const uint8_t *)"\x4f\xff\x00\x00", 4, &cd), 0);
	ck_assert_uint_eq(cd.channel, 0x4fff);
	ck_assert_uint_eq(cd.len, 0);
}
END_TEST

/* SECURITY.md: a length larger than the datagram is dropped. */
START_TEST(test_parse_length_past_datagram)
{
	uint8_t msg[16] = {0x40, 0x00, 0x00, 0x0c};
	struct turn_chandata cd;

	ck_assert_int_eq(turn_chandata_parse(msg, 16, &cd), 0);
	ck_assert_int_eq(turn_chandata_parse(msg, 15, &cd), -1);
	ck_assert_ptr_null(cd.data);
	msg[2] = 0xff;
	msg[3] = 0xff;
	ck_assert_int_eq(turn_chandata_parse(msg, 16, &cd), -1);
}
END_TEST

START_TEST(test_parse_short)
{
	static const uint8_t msg[] = {0x40, 0x00, 0x00, 0x00};
	struct turn_chandata cd;

	for (size_t n = 0; n < 4; n++)
		ck_assert_int_eq(turn_chandata_parse(msg, n, &cd), -1);
	ck_assert_int_eq(turn_chandata_parse(msg, 4, &cd), 0);
}
END_TEST

/* RFC 8656 section 12: channels are 0x4000-0x4FFF; 0x5000-0x7FFF are
 * reserved, and anything else is not ChannelData at all. */
START_TEST(test_parse_bad_channels)
{
	static const uint16_t bad[] = {0x3fff, 0x5000, 0xffff, 0x0000, 0x7fff, 0x8000};
	uint8_t msg[8] = {0, 0, 0x00, 0x04, 1, 2, 3, 4};
	struct turn_chandata cd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = (uint8_t)(bad[i] >> 8);
		msg[1] = (uint8_t)bad[i];
		ck_assert_msg(turn_chandata_parse(msg, sizeof(msg), &cd) == -1, "0x%04x", bad[i]);
	}
	msg[0] = 0x40;
	msg[1] = 0x00;
	ck_assert_int_eq(turn_chandata_parse(msg, sizeof(msg), &cd), 0);
}
END_TEST

/* Over UDP, bytes after the data (padding, zero or not) are ignored. */
START_TEST(test_parse_padding)
{
	static const uint8_t msg[] = {0x40, 0x02, 0x00, 0x01, 'x', 0xff, 0xee, 0xdd, 0xcc};
	struct turn_chandata cd;

	ck_assert_int_eq(turn_chandata_parse(msg, 8, &cd), 0);
	ck_assert_uint_eq(cd.len, 1);
	ck_assert_uint_eq(cd.data[0], 'x');
	ck_assert_int_eq(turn_chandata_parse(msg, 9, &cd), 0);
	ck_assert_int_eq(turn_chandata_parse(msg, 5, &cd), 0);
}
END_TEST

START_TEST(test_is_chandata)
{
	ck_assert(turn_chandata_is_chandata((const uint8_t *)"\x40\x00\x00\x00", 4));
	ck_assert(turn_chandata_is_chandata((const uint8_t *)"\x7f\xff\x00\x00", 4));
	ck_assert(!turn_chandata_is_chandata((const uint8_t *)"\x00\x01\x00\x00", 4));
	ck_assert(!turn_chandata_is_chandata((const uint8_t *)"\x80\x00\x00\x00", 4));
	ck_assert(!turn_chandata_is_chandata((const uint8_t *)"\xc0\x00\x00\x00", 4));
	ck_assert(!turn_chandata_is_chandata((const uint8_t *)"\x40\x00\x00", 3));
	ck_assert(!turn_chandata_is_chandata((const uint8_t *)"", 0));
}
END_TEST

START_TEST(test_build)
{
	uint8_t out[32];
	struct turn_chandata cd;

	memset(out, 0xaa, sizeof(out));
	ck_assert_int_eq(
		turn_chandata_build(out, sizeof(out), 0x4abc, (const uint8_t *)"hello", 5, false),
		9);
	ck_assert_mem_eq(out, "\x4a\xbc\x00\x05hello", 9);
	ck_assert_int_eq(turn_chandata_parse(out, 9, &cd), 0);
	ck_assert_mem_eq(cd.data, "hello", 5);

	memset(out, 0xaa, sizeof(out));
	ck_assert_int_eq(
		turn_chandata_build(out, sizeof(out), 0x4abc, (const uint8_t *)"hello", 5, true),
		12);
	ck_assert_mem_eq(out, "\x4a\xbc\x00\x05hello\0\0\0", 12);
	ck_assert_int_eq(turn_chandata_build(out, sizeof(out), 0x4000, NULL, 0, true), 4);

	/* Out of range channels, and no room. */
	ck_assert_int_eq(turn_chandata_build(out, sizeof(out), 0x3fff, out, 1, false), -1);
	ck_assert_int_eq(turn_chandata_build(out, sizeof(out), 0x8000, out, 1, false), -1);
	/* RFC 5766 numbers are built for servers that accept them. */
	ck_assert_int_eq(turn_chandata_build(out, sizeof(out), 0x7fff, out, 1, false), 5);
	ck_assert_int_eq(turn_chandata_parse(out, 5, &cd), -1);
	ck_assert_int_eq(turn_chandata_parse_upto(out, 5, TURN_CHANNEL_MAX_RFC5766, &cd), 0);
	ck_assert_uint_eq(cd.channel, 0x7fff);
	ck_assert_int_eq(turn_chandata_build(out, 8, 0x4000, (const uint8_t *)"hello", 5, false),
			 -1);
	ck_assert_int_eq(turn_chandata_build(out, 9, 0x4000, (const uint8_t *)"hello", 5, true),
			 -1);
	ck_assert_int_eq(turn_chandata_build(out, 3, 0x4000, NULL, 0, false), -1);
}
END_TEST

START_TEST(test_build_max)
{
	size_t cap = 4 + 0x10000 + 4;
	uint8_t *out = malloc(cap);
	uint8_t *data = calloc(1, 0x10000);
	struct turn_chandata cd;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(turn_chandata_build(out, cap, 0x4000, data, 0xffff, false), 0x10003);
	ck_assert_int_eq(turn_chandata_parse(out, 0x10003, &cd), 0);
	ck_assert_uint_eq(cd.len, 0xffff);
	ck_assert_int_eq(turn_chandata_build(out, cap, 0x4000, data, 0xffff, true), 0x10004);
	ck_assert_int_eq(turn_chandata_build(out, cap, 0x4000, data, 0x10000, false), -1);
	free(data);
	free(out);
}
END_TEST

/* ---- Framing ---- */

START_TEST(test_frame_bytewise)
{
	uint8_t msg[256];
	size_t n = hex_decode(VEC_5769_REQUEST, msg, sizeof(msg));
	size_t fl;

	for (size_t k = 0; k <= n; k++) {
		fl = 0;
		if (k < 4) {
			ck_assert_int_eq(turn_frame_length(msg, k, &fl), TURN_FRAME_NEED_MORE);
			continue;
		}
		ck_assert_int_eq(turn_frame_length(msg, k, &fl), TURN_FRAME_READY);
		ck_assert_uint_eq(fl, n);
	}
	/* ChannelData of 5 bytes: framed with its 3 bytes of padding. */
	memcpy(msg, "\x40\x10\x00\x05hello\0\0\0", 12);
	for (size_t k = 0; k <= 12; k++) {
		enum turn_frame_result r = turn_frame_length(msg, k, &fl);

		ck_assert_int_eq(r, k < 4 ? TURN_FRAME_NEED_MORE : TURN_FRAME_READY);
		if (k >= 4)
			ck_assert_uint_eq(fl, 12);
	}
	memcpy(msg, "\x40\x10\x00\x00", 4);
	ck_assert_int_eq(turn_frame_length(msg, 4, &fl), TURN_FRAME_READY);
	ck_assert_uint_eq(fl, 4);
	/* A header-only STUN message is one 20-byte frame. */
	memcpy(msg, "\x00\x01\x00\x00", 4);
	ck_assert_int_eq(turn_frame_length(msg, 4, &fl), TURN_FRAME_READY);
	ck_assert_uint_eq(fl, 20);
}
END_TEST

START_TEST(test_frame_invalid)
{
	static const char *const bad[] = {"\x80\x00\x00\x00", "\xbf\xff\x00\x04",
					  "\xc0\x00\x00\x00", "\xff\xff\xff\xff",
					  "\x00\x01\x00\x05", "\x00\x01\xff\xff"};
	size_t fl;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const uint8_t *p = (const uint8_t *)bad[i];

		for (size_t k = 0; k < 4; k++)
			ck_assert_int_eq(turn_frame_length(p, k, &fl), TURN_FRAME_NEED_MORE);
		ck_assert_msg(turn_frame_length(p, 4, &fl) == TURN_FRAME_INVALID, "case %zu", i);
	}
}
END_TEST

/* A receiver as net/ will have one: append what arrives, cut off every
 * complete frame, check it parses. The hot loops below avoid ck_assert
 * (each one is a message to the runner): failures are recorded in `bad`
 * and asserted once per run. */
struct reasm {
	uint8_t buf[70000];
	size_t len;
	bool invalid;
	bool bad;
	size_t n_frames;
	size_t frame_len[16];
};

static void reasm_frame(struct reasm *s, size_t fl)
{
	struct stun_msg m;
	struct turn_chandata cd;

	if (turn_chandata_is_chandata(s->buf, fl)) {
		if (turn_chandata_parse(s->buf, fl, &cd) < 0)
			s->bad = true;
	} else if (stun_msg_parse(&m, s->buf, fl) < 0) {
		s->bad = true;
	}
	if (s->n_frames < 16)
		s->frame_len[s->n_frames] = fl;
	s->n_frames++;
	memmove(s->buf, s->buf + fl, s->len - fl);
	s->len -= fl;
}

static void reasm_feed(struct reasm *s, const uint8_t *p, size_t n)
{
	size_t fl;

	if (s->len + n > sizeof(s->buf)) {
		s->bad = true;
		return;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	for (;;) {
		enum turn_frame_result r = turn_frame_length(s->buf, s->len, &fl);

		if (r == TURN_FRAME_INVALID) {
			s->invalid = true;
			return;
		}
		if (r == TURN_FRAME_NEED_MORE || fl > s->len)
			return;
		reasm_frame(s, fl);
	}
}

static struct reasm rs;

static void reasm_reset(void)
{
	rs.len = 0;
	rs.invalid = false;
	rs.bad = false;
	rs.n_frames = 0;
}

/* Vectors and ChannelData messages back to back on one stream. */
static size_t make_stream(uint8_t *st, size_t cap, size_t *lens)
{
	size_t n = 0, k = 0;
	long w;

	lens[k] = hex_decode(VEC_5769_REQUEST, st, cap);
	n += lens[k++];
	w = turn_chandata_build(st + n, cap - n, 0x4001, (const uint8_t *)"hello", 5, true);
	lens[k] = (size_t)w;
	n += lens[k++];
	lens[k] = hex_decode(VEC_5769_LONG_TERM, st + n, cap - n);
	n += lens[k++];
	w = turn_chandata_build(st + n, cap - n, 0x4fff, NULL, 0, true);
	lens[k] = (size_t)w;
	n += lens[k++];
	w = turn_chandata_build(st + n, cap - n, 0x4002, (const uint8_t *)"abcd", 4, true);
	lens[k] = (size_t)w;
	n += lens[k++];
	lens[k] = hex_decode(VEC_8489_SHA256, st + n, cap - n);
	n += lens[k++];
	return n;
}

/* The stream came out as exactly these frames, all parsed. */
static bool frames_ok(const size_t *lens, size_t k)
{
	if (rs.invalid || rs.bad || rs.len != 0 || rs.n_frames != k)
		return false;
	for (size_t i = 0; i < k; i++)
		if (rs.frame_len[i] != lens[i])
			return false;
	return true;
}

START_TEST(test_stream_split_everywhere)
{
	uint8_t st[1024];
	size_t lens[6];
	size_t n = make_stream(st, sizeof(st), lens);

	size_t failures = 0;

	ck_assert_uint_eq(lens[1], 12);
	/* Two cuts, at every pair of positions: three pieces. */
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			reasm_reset();
			reasm_feed(&rs, st, i);
			reasm_feed(&rs, st + i, j - i);
			reasm_feed(&rs, st + j, n - j);
			if (!frames_ok(lens, 6))
				failures++;
		}
	}
	ck_assert_uint_eq(failures, 0);
	/* Fixed-size chunks of every size, byte-by-byte included. */
	for (size_t c = 1; c <= n; c++) {
		reasm_reset();
		for (size_t off = 0; off < n; off += c)
			reasm_feed(&rs, st + off, off + c <= n ? c : n - off);
		ck_assert_msg(frames_ok(lens, 6), "chunk size %zu", c);
	}
}
END_TEST

/* SECURITY.md: ChannelData of length 0xFFFF arriving in pieces is framed
 * correctly (4 + 0xFFFF + 1 byte of padding), and what follows it too. */
START_TEST(test_stream_chandata_max)
{
	size_t cap = 70000;
	uint8_t *st = calloc(1, cap);
	uint8_t *data = malloc(0xffff);
	size_t lens[2], n;
	static const size_t pieces[] = {1, 2, 1, 1000, 30000, 34536, 0};

	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_nonnull(data);
	memset(data, 0x5a, 0xffff);
	lens[0] = (size_t)turn_chandata_build(st, cap, 0x4123, data, 0xffff, true);
	ck_assert_uint_eq(lens[0], 0x10004);
	lens[1] = hex_decode(VEC_5769_RESPONSE_V6, st + lens[0], cap - lens[0]);
	n = lens[0] + lens[1];

	reasm_reset();
	for (size_t off = 0; off < n; off++)
		reasm_feed(&rs, st + off, 1);
	ck_assert(frames_ok(lens, 2));

	reasm_reset();
	for (size_t i = 0, off = 0; off < n; i++) {
		size_t c = pieces[i] ? pieces[i] : n - off;

		reasm_feed(&rs, st + off, c);
		off += c;
	}
	ck_assert(frames_ok(lens, 2));
	free(data);
	free(st);
}
END_TEST

START_TEST(test_stream_invalid_after_frames)
{
	uint8_t st[256];
	size_t n = hex_decode(VEC_5769_RESPONSE_V4, st, sizeof(st));

	memcpy(st + n, "\x80\x00\x00\x00", 4);
	for (size_t c = 1; c <= n + 4; c++) {
		reasm_reset();
		for (size_t off = 0; off < n + 4 && !rs.invalid; off += c)
			reasm_feed(&rs, st + off, off + c <= n + 4 ? c : n + 4 - off);
		ck_assert(rs.invalid);
		ck_assert(!rs.bad);
		ck_assert_uint_eq(rs.n_frames, 1);
	}
}
END_TEST

static Suite *channel_suite(void)
{
	Suite *s = suite_create("stun_channel");
	TCase *tc = tcase_create("chandata");

	tcase_add_test(tc, test_parse_valid);
	tcase_add_test(tc, test_parse_length_past_datagram);
	tcase_add_test(tc, test_parse_short);
	tcase_add_test(tc, test_parse_bad_channels);
	tcase_add_test(tc, test_parse_padding);
	tcase_add_test(tc, test_is_chandata);
	tcase_add_test(tc, test_build);
	tcase_add_test(tc, test_build_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_frame_bytewise);
	tcase_add_test(tc, test_frame_invalid);
	tcase_add_test(tc, test_stream_split_everywhere);
	tcase_add_test(tc, test_stream_chandata_max);
	tcase_add_test(tc, test_stream_invalid_after_frames);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(channel_suite());
}
