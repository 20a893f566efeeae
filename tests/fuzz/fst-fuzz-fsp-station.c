/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes what the station parses from a device: the incremental frame
 * decoder on an arbitrary byte stream, and the HELLO/LIST/READ response
 * parsers on every frame that comes out (and on the raw input as a payload).
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "fst-fsp-device.h"
#include "fst-fsp-wire.h"

static void
parse_payload(const uint8_t *buf, size_t len)
{
	FstDeviceInfo info = {0};
	g_autoptr(GArray) objs = NULL;
	FstFspCursor c;

	if (fst_fsp_parse_hello(buf, len, &info, NULL)) {
		/* whatever was accepted obeys the limits */
		g_assert(info.uid != NULL && strlen(info.uid) >= 1 &&
		         strlen(info.uid) <= FST_FSP_STRING_MAX);
		g_assert(info.max_payload >= FST_FSP_MIN_PAYLOAD &&
		         info.max_payload <= FST_FSP_MAX_PAYLOAD_LIMIT);
		g_assert(info.cred_slots >= 1 && info.cred_slots <= FST_FSP_CRED_SLOTS_MAX &&
		         info.active_slot < info.cred_slots);
		g_free(info.uid);
		g_free(info.model);
		g_free(info.firmware);
	}
	objs = fst_fsp_parse_list(buf, len, NULL);
	if (objs != NULL)
		g_assert(objs->len <= FST_FSP_MAX_OBJECTS);

	/* READ response body: total, data */
	fst_fsp_reader_init(&c, buf, len);
	(void)fst_fsp_read_u32(&c);
	(void)fst_fsp_read_bytes(&c, fst_fsp_cursor_remaining(&c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT)];
	FstFspDecoder dec;

	fst_fsp_decoder_init(&dec, buf, sizeof(buf), FST_FSP_MAX_PAYLOAD_LIMIT);
	for (size_t i = 0; i < size; i++) {
		FstFspPacket pkt;
		if (fst_fsp_decoder_push(&dec, data[i], &pkt) != FST_FSP_DEC_FRAME)
			continue;
		g_assert(pkt.len <= FST_FSP_MAX_PAYLOAD_LIMIT);
		if (pkt.len >= 1)
			parse_payload(pkt.payload + 1, pkt.len - 1u);
	}
	parse_payload(data, size);
	return 0;
}
