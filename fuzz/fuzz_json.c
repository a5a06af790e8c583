/*
 * libFuzzer target for the strict JSON reader and the string writer
 * (src/util/json.c) that the HTTP authorization hook uses on the
 * application's answers and on clients' usernames.
 *
 * The input is read as an object: every member's name and string value
 * must decode or be refused within bounds, every number be read or
 * refused. Then it is taken as a username: written as a JSON string
 * inside an object, read back, and, when it is UTF-8 without NUL, it must
 * decode to exactly the input. Violations end in __builtin_trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stun/attr.h"
#include "util/json.h"

#define FUZZ_ASSERT(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define MEMBERS_MAX 64
#define NAME_MAX_BYTES 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_read(const uint8_t *data, size_t size)
{
	struct json_member m[MEMBERS_MAX];
	char out[256];
	uint64_t v;
	int n = json_object_members((const char *)data, size, m, MEMBERS_MAX);

	FUZZ_ASSERT(n >= -1 && n <= MEMBERS_MAX);
	for (int i = 0; i < n; i++) {
		const char *end = (const char *)data + size;
		FUZZ_ASSERT(m[i].name >= (const char *)data && m[i].name + m[i].name_len <= end);
		FUZZ_ASSERT(m[i].value >= (const char *)data && m[i].value + m[i].value_len <= end);
		int k = json_string_decode(m[i].name, m[i].name_len, out, sizeof(out));
		FUZZ_ASSERT(k < (int)sizeof(out) && (k < 0 || out[k] == '\0'));
		if (m[i].type == JSON_STRING) {
			k = json_string_decode(m[i].value, m[i].value_len, out, sizeof(out));
			FUZZ_ASSERT(k < 0 || (size_t)k == strlen(out));
		}
		if (json_uint(&m[i], UINT64_MAX, &v) == 0)
			FUZZ_ASSERT(m[i].type == JSON_NUMBER);
	}
}

static void fuzz_round_trip(const uint8_t *data, size_t size)
{
	char buf[6 * NAME_MAX_BYTES + 16], back[NAME_MAX_BYTES + 1];
	struct json_member m[2];
	size_t pos = 0;

	if (size > NAME_MAX_BYTES)
		return;
	FUZZ_ASSERT(json_put_raw(buf, sizeof(buf), &pos, "{\"u\":") == 0);
	FUZZ_ASSERT(json_put_string(buf, sizeof(buf), &pos, data, size) == 0);
	FUZZ_ASSERT(json_put_raw(buf, sizeof(buf), &pos, "}") == 0);
	FUZZ_ASSERT(strlen(buf) == pos);
	/* Whatever the bytes, the writer's output is one valid object. */
	FUZZ_ASSERT(json_object_members(buf, pos, m, 2) == 1 && m[0].type == JSON_STRING);
	if (!stun_utf8_valid(data, size) || memchr(data, 0, size))
		return;
	int k = json_string_decode(m[0].value, m[0].value_len, back, sizeof(back));
	FUZZ_ASSERT(k == (int)size && memcmp(back, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_read(data, size);
	fuzz_round_trip(data, size);
	return 0;
}
