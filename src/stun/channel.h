/*
 * ChannelData messages (RFC 8656 section 12) and framing of the TCP stream
 * that carries STUN and ChannelData messages (RFC 8656 section 12.5).
 */
#ifndef TURND_STUN_CHANNEL_H
#define TURND_STUN_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TURN_CHANDATA_HDR_LEN 4

struct turn_chandata {
	uint16_t channel;
	uint16_t len;        /* application data length */
	const uint8_t *data; /* view into the caller's buffer */
};

/* True if the first two bits are 01 (a ChannelData message, channel numbers
 * 0x4000-0x7FFF). */
bool turn_chandata_is_chandata(const uint8_t *buf, size_t len);

/*
 * Parse a ChannelData datagram (or TCP frame) of len bytes. Returns 0, or -1
 * to drop: shorter than 4 bytes, the length field larger than what follows,
 * or a channel number outside 0x4000-0x4FFF. Over UDP extra bytes after the
 * data (padding) are allowed and ignored.
 */
int turn_chandata_parse(const uint8_t *buf, size_t len, struct turn_chandata *out);

/* RFC 5766 allowed channel numbers up to 0x7FFF, and some clients still
 * pick them (coturn's turnutils_uclient draws from 0x4000-0x7FFF). RFC 8656
 * reserves 0x5000-0xFFFF; the server accepts the old range only when the
 * operator asks (legacy-channel-numbers). Same as turn_chandata_parse with
 * channels up to max_channel. */
#define TURN_CHANNEL_MAX_RFC5766 0x7FFF
int turn_chandata_parse_upto(const uint8_t *buf, size_t len, uint16_t max_channel,
			     struct turn_chandata *out);

/*
 * Write a ChannelData message into buf. With pad (stream transports) the
 * message is padded with zeros to a multiple of 4. Returns the number of
 * bytes written, or -1 if it does not fit or the channel is outside 0x4000-0x7FFF.
 */
long turn_chandata_build(uint8_t *buf, size_t cap, uint16_t channel, const uint8_t *data,
			 size_t len, bool pad);

enum turn_frame_result {
	TURN_FRAME_INVALID = -1, /* first two bits 10 or 11: close the stream */
	TURN_FRAME_NEED_MORE = 0,
	TURN_FRAME_READY = 1,
};

/*
 * Given the first avail bytes buffered from a TCP stream, tell how long the
 * next frame is: a STUN message is 20 + length; a ChannelData message is
 * 4 + length rounded up to a multiple of 4 (padding over TCP). Needs 4 bytes
 * to decide: with fewer, NEED_MORE. With READY, *frame_len is set; avail
 * may still be smaller than *frame_len, and the caller waits for the rest.
 * A STUN header whose length is not a multiple of 4 is INVALID.
 */
enum turn_frame_result turn_frame_length(const uint8_t *buf, size_t avail, size_t *frame_len);

#endif
