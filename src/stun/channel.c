/*
 * ChannelData messages (RFC 8656 section 12.4) and the framing of a TCP or
 * TLS stream that interleaves them with STUN messages (section 12.5).
 */
#include "stun/channel.h"

#include "stun/stun.h"
#include "util/rbuf.h"

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

bool turn_chandata_is_chandata(const uint8_t *buf, size_t len)
{
	struct rbuf r;

	if (len < TURN_CHANDATA_HDR_LEN)
		return false;
	rbuf_init(&r, buf, len);
	return (rbuf_u8(&r) & 0xC0) == 0x40;
}

static bool channel_valid(uint16_t channel)
{
	return channel >= TURN_CHANNEL_MIN && channel <= TURN_CHANNEL_MAX_RFC5766;
}

int turn_chandata_parse(const uint8_t *buf, size_t len, struct turn_chandata *out)
{
	return turn_chandata_parse_upto(buf, len, TURN_CHANNEL_MAX, out);
}

int turn_chandata_parse_upto(const uint8_t *buf, size_t len, uint16_t max_channel,
			     struct turn_chandata *out)
{
	struct rbuf r;

	rbuf_init(&r, buf, len);
	out->channel = rbuf_u16(&r);
	out->len = rbuf_u16(&r);
	/* RFC 8656 section 12.4: a length beyond what arrived means the
	 * message is dropped; anything after the data is padding. */
	out->data = rbuf_view(&r, out->len);
	if (r.err || out->channel < TURN_CHANNEL_MIN || out->channel > max_channel) {
		out->data = NULL;
		return -1;
	}
	return 0;
}

long turn_chandata_build(uint8_t *buf, size_t cap, uint16_t channel, const uint8_t *data,
			 size_t len, bool pad)
{
	struct wbuf w;
	size_t total = TURN_CHANDATA_HDR_LEN + (pad ? pad4(len) : len);

	if (!channel_valid(channel) || len > 0xFFFF || (!data && len))
		return -1;
	wbuf_init(&w, buf, cap);
	if (!wbuf_room(&w, total))
		return -1;
	wbuf_u16(&w, channel);
	wbuf_u16(&w, (uint16_t)len);
	wbuf_bytes(&w, data, len);
	wbuf_zero(&w, total - w.len);
	return w.err ? -1 : (long)w.len;
}

enum turn_frame_result turn_frame_length(const uint8_t *buf, size_t avail, size_t *frame_len)
{
	struct rbuf r;
	uint8_t top;
	uint16_t len;

	if (avail < TURN_CHANDATA_HDR_LEN)
		return TURN_FRAME_NEED_MORE;
	rbuf_init(&r, buf, avail);
	top = rbuf_u8(&r) >> 6;
	rbuf_skip(&r, 1);
	len = rbuf_u16(&r);
	switch (top) {
	case 0:
		/* RFC 8489 section 6: STUN lengths are multiples of 4. */
		if (len % 4)
			return TURN_FRAME_INVALID;
		*frame_len = STUN_HDR_LEN + (size_t)len;
		return TURN_FRAME_READY;
	case 1:
		/* RFC 8656 section 12.5: over a stream, ChannelData is
		 * padded to a multiple of 4 and the padding is framed. */
		*frame_len = TURN_CHANDATA_HDR_LEN + pad4(len);
		return TURN_FRAME_READY;
	default: return TURN_FRAME_INVALID;
	}
}
