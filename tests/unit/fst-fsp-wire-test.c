/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FSP v1 frame codec: CRC, COBS, packets, the incremental decoder, cursors.
 */
#define G_LOG_DOMAIN "FstFspWireTest"

#include <glib.h>
#include <string.h>

#include "fst-fsp-wire.h"

#define BUF_CAP FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT)

static void
fill_random(GRand *rand, guint8 *buf, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		/* plenty of zeros, so COBS has work to do */
		buf[i] =
		    g_rand_int_range(rand, 0, 4) == 0 ? 0 : (guint8)g_rand_int_range(rand, 0, 256);
	}
}

static gsize
encode(guint8 type, guint16 seq, const guint8 *payload, guint16 len, guint8 *out, gsize cap)
{
	FstFspPacket pkt = {
	    .version = FST_FSP_VERSION, .type = type, .seq = seq, .len = len, .payload = payload};
	return fst_fsp_packet_encode(&pkt, out, cap);
}

/* feeds @len bytes; returns the number of frames seen, the last in @pkt */
static guint
feed(FstFspDecoder *dec, const guint8 *buf, gsize len, FstFspPacket *pkt, gint *last_error)
{
	guint n = 0;
	for (gsize i = 0; i < len; i++) {
		int rc = fst_fsp_decoder_push(dec, buf[i], pkt);
		if (rc == FST_FSP_DEC_FRAME)
			n++;
		else if (rc < 0 && last_error != NULL)
			*last_error = rc;
	}
	return n;
}

static void
test_crc32(void)
{
	const guint8 check[] = "123456789";
	/* the standard check value of CRC-32/ISO-HDLC */
	g_assert_cmphex(fst_fsp_crc32(0, check, 9), ==, 0xcbf43926);
	/* incremental equals one-shot */
	g_assert_cmphex(fst_fsp_crc32(fst_fsp_crc32(0, check, 4), check + 4, 5), ==, 0xcbf43926);
	g_assert_cmphex(fst_fsp_crc32(0, NULL, 0), ==, 0);
}

static void
test_cobs_vectors(void)
{
	/* vectors from the COBS paper / Wikipedia */
	const guint8 in1[] = {0x00};
	const guint8 out1[] = {0x01, 0x01};
	const guint8 in2[] = {0x11, 0x22, 0x00, 0x33};
	const guint8 out2[] = {0x03, 0x11, 0x22, 0x02, 0x33};
	const guint8 in3[] = {0x11, 0x00, 0x00, 0x00};
	const guint8 out3[] = {0x02, 0x11, 0x01, 0x01, 0x01};
	guint8 in4[254];
	guint8 out[600];
	guint8 back[600];
	gsize n;

	n = fst_fsp_cobs_encode(in1, sizeof(in1), out, sizeof(out));
	g_assert_cmpmem(out, n, out1, sizeof(out1));
	n = fst_fsp_cobs_encode(in2, sizeof(in2), out, sizeof(out));
	g_assert_cmpmem(out, n, out2, sizeof(out2));
	n = fst_fsp_cobs_encode(in3, sizeof(in3), out, sizeof(out));
	g_assert_cmpmem(out, n, out3, sizeof(out3));

	/* 254 non-zero bytes: one full block, then an empty one */
	for (guint i = 0; i < sizeof(in4); i++)
		in4[i] = (guint8)(i + 1 > 255 ? 1 : i + 1);
	n = fst_fsp_cobs_encode(in4, sizeof(in4), out, sizeof(out));
	g_assert_cmpuint(n, ==, 256);
	g_assert_cmphex(out[0], ==, 0xff);
	g_assert_cmphex(out[255], ==, 0x01);
	g_assert_cmpuint(n, <=, FST_FSP_COBS_MAX(sizeof(in4)));
	n = fst_fsp_cobs_decode(out, n, back, sizeof(back));
	g_assert_cmpmem(back, n, in4, sizeof(in4));

	/* too small an output buffer fails instead of overflowing */
	g_assert_cmpuint(fst_fsp_cobs_encode(in2, sizeof(in2), out, 4), ==, 0);
	g_assert_cmpuint(fst_fsp_cobs_decode(out2, sizeof(out2), back, 3), ==, 0);
	/* a block that runs past the end is malformed */
	g_assert_cmpuint(
	    fst_fsp_cobs_decode((const guint8 *)"\x05\x11\x22", 3, back, sizeof(back)), ==, 0);
}

static void
test_round_trip(void)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(1);
	g_autofree guint8 *payload = g_malloc(FST_FSP_MAX_PAYLOAD_LIMIT);
	g_autofree guint8 *wire = g_malloc(BUF_CAP);
	g_autofree guint8 *dbuf = g_malloc(BUF_CAP);
	FstFspDecoder dec;

	fst_fsp_decoder_init(&dec, dbuf, BUF_CAP, FST_FSP_MAX_PAYLOAD_LIMIT);
	for (guint len = 0; len <= FST_FSP_MAX_PAYLOAD_LIMIT; len++) {
		FstFspPacket pkt = {0};
		gsize n;

		fill_random(rand, payload, len);
		n = encode(0x85, (guint16)(len * 7), payload, (guint16)len, wire, BUF_CAP);
		g_assert_cmpuint(n, >, 0);
		g_assert_cmpuint(n, <=, FST_FSP_ENCODED_MAX(len));
		/* the only zero is the delimiter */
		g_assert_null(memchr(wire, 0, n - 1));
		g_assert_cmphex(wire[n - 1], ==, 0);
		g_assert_cmpuint(feed(&dec, wire, n, &pkt, NULL), ==, 1);
		g_assert_cmpuint(pkt.version, ==, FST_FSP_VERSION);
		g_assert_cmphex(pkt.type, ==, 0x85);
		g_assert_cmpuint(pkt.seq, ==, (guint16)(len * 7));
		g_assert_cmpmem(pkt.payload, pkt.len, payload, len);
	}
	g_assert_cmpuint(dec.n_frames, ==, FST_FSP_MAX_PAYLOAD_LIMIT + 1);
	g_assert_cmpuint(dec.n_bad_crc + dec.n_bad_cobs + dec.n_oversize + dec.n_truncated, ==, 0);

	/* the encoder refuses a buffer that is one byte short */
	{
		gsize need = encode(1, 1, payload, 300, wire, BUF_CAP);
		g_assert_cmpuint(encode(1, 1, payload, 300, wire, need - 1), ==, 0);
	}
}

static void
test_corrupt_rejected(void)
{
	const guint8 payload[] = {0x00, 0x01, 0x02, 0x00, 0xff, 0x10, 0x20, 0x30, 0x00, 0x00, 0x42};
	guint8 wire[64];
	guint8 bad[64];
	guint8 dbuf[BUF_CAP];
	gsize n = encode(FST_FSP_CMD_WRITE, 0x1234, payload, sizeof(payload), wire, sizeof(wire));
	FstFspDecoder dec;
	FstFspPacket pkt;

	g_assert_cmpuint(n, >, 0);
	fst_fsp_decoder_init(&dec, dbuf, sizeof(dbuf), FST_FSP_MAX_PAYLOAD_LIMIT);

	/* every single-bit error anywhere in the frame is rejected, and the
	 * decoder takes the next good frame right after */
	for (gsize i = 0; i < n - 1; i++) {
		for (guint bit = 0; bit < 8; bit++) {
			memcpy(bad, wire, n);
			bad[i] ^= (guint8)(1u << bit);
			g_assert_cmpuint(feed(&dec, bad, n, &pkt, NULL), ==, 0);
			/* a flip to 0x00 leaves an unterminated tail: end it */
			g_assert_cmpuint(feed(&dec, (const guint8 *)"\0", 1, &pkt, NULL), ==, 0);
			g_assert_cmpuint(feed(&dec, wire, n, &pkt, NULL), ==, 1);
			g_assert_cmpmem(pkt.payload, pkt.len, payload, sizeof(payload));
		}
	}
	g_assert_cmpuint(dec.n_frames, ==, (n - 1) * 8);
	g_assert_cmpuint(dec.n_bad_crc, >, 0);

	/* a CRC error proper: change a payload byte and re-encode the COBS layer
	 * around the unchanged CRC */
	{
		guint8 raw[64];
		guint8 cobs[80];
		gsize rawlen = fst_fsp_cobs_decode(wire, n - 1, raw, sizeof(raw));
		gsize m;
		gint err = 0;
		guint32 before = dec.n_bad_crc;
		raw[FST_FSP_HEADER_SIZE + 5] ^= 0x40;
		m = fst_fsp_cobs_encode(raw, rawlen, cobs, sizeof(cobs));
		cobs[m++] = 0;
		g_assert_cmpuint(feed(&dec, cobs, m, &pkt, &err), ==, 0);
		g_assert_cmpint(err, ==, FST_FSP_DEC_ERR_CRC);
		g_assert_cmpuint(dec.n_bad_crc, ==, before + 1);
	}
}

static void
test_truncated_rejected(void)
{
	const guint8 payload[40] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	guint8 wire[128];
	guint8 dbuf[BUF_CAP];
	guint8 raw[128];
	gsize n = encode(FST_FSP_CMD_READ, 7, payload, sizeof(payload), wire, sizeof(wire));
	gsize rawlen = fst_fsp_cobs_decode(wire, n - 1, raw, sizeof(raw));
	FstFspDecoder dec;
	FstFspPacket pkt;

	fst_fsp_decoder_init(&dec, dbuf, sizeof(dbuf), FST_FSP_MAX_PAYLOAD_LIMIT);
	/* every prefix of the frame, terminated early, is rejected */
	for (gsize cut = 1; cut < n - 1; cut++) {
		g_assert_cmpuint(feed(&dec, wire, cut, &pkt, NULL), ==, 0);
		g_assert_cmpuint(feed(&dec, (const guint8 *)"\0", 1, &pkt, NULL), ==, 0);
	}
	g_assert_cmpuint(dec.n_frames, ==, 0);
	g_assert_cmpuint(dec.n_truncated + dec.n_bad_cobs + dec.n_bad_crc, ==, n - 2);

	/* the parser itself: too short for a header, and a length field that
	 * promises more than is there */
	g_assert_cmpint(fst_fsp_packet_parse(raw, 5, 4096, &pkt), ==, FST_FSP_DEC_ERR_TRUNCATED);
	g_assert_cmpint(
	    fst_fsp_packet_parse(raw, rawlen - 1, 4096, &pkt), ==, FST_FSP_DEC_ERR_TRUNCATED);
	g_assert_cmpint(fst_fsp_packet_parse(raw, rawlen, 4096, &pkt), ==, FST_FSP_DEC_FRAME);
}

static void
test_resync_after_garbage(void)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(2);
	const guint8 payload[] = "hello, station";
	guint8 wire[64];
	guint8 garbage[300];
	guint8 dbuf[FST_FSP_ENCODED_MAX(256)];
	gsize n = encode(FST_FSP_CMD_HELLO | FST_FSP_RESPONSE_BIT,
	                 99,
	                 payload,
	                 sizeof(payload),
	                 wire,
	                 sizeof(wire));
	FstFspDecoder dec;
	FstFspPacket pkt;

	fst_fsp_decoder_init(&dec, dbuf, sizeof(dbuf), 256);
	for (guint round = 0; round < 200; round++) {
		gsize glen = (gsize)g_rand_int_range(rand, 1, sizeof(garbage));
		fill_random(rand, garbage, glen);
		/* garbage, then the frame: exactly one frame comes out, intact */
		g_assert_cmpuint(feed(&dec, garbage, glen, &pkt, NULL), ==, 0);
		g_assert_cmpuint(feed(&dec, (const guint8 *)"\0", 1, &pkt, NULL), ==, 0);
		g_assert_cmpuint(feed(&dec, wire, n, &pkt, NULL), ==, 1);
		g_assert_cmpuint(pkt.seq, ==, 99);
		g_assert_cmpmem(pkt.payload, pkt.len, payload, sizeof(payload));
	}
	g_assert_cmpuint(dec.n_frames, ==, 200);
}

static void
test_split_feeds(void)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(3);
	guint8 payloads[3][300];
	guint16 lens[3] = {0, 17, 300};
	guint8 stream[1024];
	gsize slen = 0;
	guint8 dbuf[BUF_CAP];
	FstFspDecoder dec;

	for (guint i = 0; i < 3; i++) {
		fill_random(rand, payloads[i], lens[i]);
		slen += encode(FST_FSP_CMD_WRITE,
		               (guint16)i,
		               payloads[i],
		               lens[i],
		               stream + slen,
		               sizeof(stream) - slen);
	}
	fst_fsp_decoder_init(&dec, dbuf, sizeof(dbuf), FST_FSP_MAX_PAYLOAD_LIMIT);

	/* two pieces, split at every position, then random piece sizes */
	for (guint round = 0; round < slen + 100; round++) {
		gsize pos = 0;
		guint seen = 0;
		while (pos < slen) {
			gsize piece = round < slen ? (pos == 0 ? round + 1 : slen - pos)
			                           : (gsize)g_rand_int_range(rand, 1, 40);
			piece = MIN(piece, slen - pos);
			for (gsize k = 0; k < piece; k++) {
				FstFspPacket pkt;
				if (fst_fsp_decoder_push(&dec, stream[pos + k], &pkt) ==
				    FST_FSP_DEC_FRAME) {
					g_assert_cmpuint(pkt.seq, ==, seen);
					g_assert_cmpmem(
					    pkt.payload, pkt.len, payloads[seen], lens[seen]);
					seen++;
				}
			}
			pos += piece;
		}
		g_assert_cmpuint(seen, ==, 3);
	}
	g_assert_cmpuint(dec.n_bad_crc + dec.n_bad_cobs + dec.n_truncated + dec.n_oversize, ==, 0);
}

static void
test_oversize_rejected(void)
{
	guint8 big[200] = {0x55};
	guint8 small[] = {1, 2, 3};
	guint8 wire[FST_FSP_ENCODED_MAX(200)];
	guint8 wire_small[32];
	guint8 dbuf[FST_FSP_ENCODED_MAX(128)];
	FstFspDecoder dec;
	FstFspPacket pkt;
	gint err = 0;
	gsize n;
	gsize ns = encode(2, 2, small, sizeof(small), wire_small, sizeof(wire_small));

	/* buffer for 128, limit 64: a 200-byte frame overflows the buffer, a
	 * 100-byte frame fits it but exceeds the limit; both are dropped whole */
	fst_fsp_decoder_init(&dec, dbuf, sizeof(dbuf), 64);
	n = encode(1, 1, big, sizeof(big), wire, sizeof(wire));
	g_assert_cmpuint(feed(&dec, wire, n, &pkt, &err), ==, 0);
	g_assert_cmpint(err, ==, FST_FSP_DEC_ERR_OVERSIZE);
	g_assert_cmpuint(dec.n_oversize, ==, 1);
	g_assert_cmpuint(feed(&dec, wire_small, ns, &pkt, NULL), ==, 1);
	g_assert_cmpmem(pkt.payload, pkt.len, small, sizeof(small));

	err = 0;
	n = encode(1, 1, big, 100, wire, sizeof(wire));
	g_assert_cmpuint(feed(&dec, wire, n, &pkt, &err), ==, 0);
	g_assert_cmpint(err, ==, FST_FSP_DEC_ERR_OVERSIZE);
	g_assert_cmpuint(dec.n_oversize, ==, 2);
	g_assert_cmpuint(feed(&dec, wire_small, ns, &pkt, NULL), ==, 1);

	/* the encoder refuses a payload over the protocol limit */
	{
		FstFspPacket huge = {
		    .type = 1, .len = FST_FSP_MAX_PAYLOAD_LIMIT + 1, .payload = big};
		g_assert_cmpuint(fst_fsp_packet_encode(&huge, wire, sizeof(wire)), ==, 0);
	}
}

/* the decoder's two bounds, each at exactly its value and one past it: the
 * buffer (a frame of exactly @cap encoded bytes fits, one more is dropped
 * and nothing is written at buf[cap]) and the payload limit */
static void
test_decoder_bounds(void)
{
	guint8 payload[FST_FSP_MAX_PAYLOAD_LIMIT + 1];
	guint8 wire[FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT + 1)];
	guint8 mem[FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT) + 16];
	FstFspDecoder dec;
	FstFspPacket pkt;
	gint err;
	gsize n;

	/* no zero bytes: COBS adds its worst case, one byte per 254 */
	memset(payload, 0x5a, sizeof(payload));

	for (guint16 plen = 100; plen <= 600; plen += 500) {
		gsize body;
		n = encode(3, 7, payload, plen, wire, sizeof(wire));
		g_assert_cmpuint(n, >, 0);
		body = n - 1; /* without the delimiter */

		/* a buffer of exactly the frame's size */
		memset(mem, 0xee, sizeof(mem));
		fst_fsp_decoder_init(&dec, mem, body, plen);
		err = 0;
		g_assert_cmpuint(feed(&dec, wire, n, &pkt, &err), ==, 1);
		g_assert_cmpint(err, ==, 0);
		g_assert_cmpuint(pkt.len, ==, plen);
		g_assert_cmpmem(pkt.payload, pkt.len, payload, plen);
		g_assert_cmphex(mem[body], ==, 0xee);

		/* one byte short: dropped whole, nothing past the buffer */
		memset(mem, 0xee, sizeof(mem));
		fst_fsp_decoder_init(&dec, mem, body - 1, plen);
		err = 0;
		g_assert_cmpuint(feed(&dec, wire, n, &pkt, &err), ==, 0);
		g_assert_cmpint(err, ==, FST_FSP_DEC_ERR_OVERSIZE);
		g_assert_cmpuint(dec.n_oversize, ==, 1);
		g_assert_cmphex(mem[body - 1], ==, 0xee);
		g_assert_cmphex(mem[body], ==, 0xee);

		/* payload limit: exactly plen passes (above), plen - 1 refuses it */
		fst_fsp_decoder_init(&dec, mem, sizeof(mem), plen - 1);
		err = 0;
		g_assert_cmpuint(feed(&dec, wire, n, &pkt, &err), ==, 0);
		g_assert_cmpint(err, ==, FST_FSP_DEC_ERR_OVERSIZE);
	}

	/* the largest frame of v1, worst-case COBS, fits the buffer size the
	 * header tells every receiver to use */
	n = encode(3, 7, payload, FST_FSP_MAX_PAYLOAD_LIMIT, wire, sizeof(wire));
	g_assert_cmpuint(n, ==, FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT));
	fst_fsp_decoder_init(&dec, mem, n - 1, FST_FSP_MAX_PAYLOAD_LIMIT);
	g_assert_cmpuint(feed(&dec, wire, n, &pkt, NULL), ==, 1);
	g_assert_cmpuint(pkt.len, ==, FST_FSP_MAX_PAYLOAD_LIMIT);
	/* the decoder never accepts more than the protocol limit, whatever the
	 * caller asks for */
	fst_fsp_decoder_init(&dec, mem, sizeof(mem), FST_FSP_MAX_PAYLOAD_LIMIT + 1);
	g_assert_cmpuint(dec.max_payload, ==, FST_FSP_MAX_PAYLOAD_LIMIT);

	/* the encoder: an output of exactly the frame's size, and one short */
	n = encode(3, 7, payload, 300, wire, sizeof(wire));
	g_assert_cmpuint(encode(3, 7, payload, 300, mem, n), ==, n);
	g_assert_cmpuint(encode(3, 7, payload, 300, mem, n - 1), ==, 0);
}

static void
test_version_rejected(void)
{
	guint8 raw[FST_FSP_OVERHEAD] = {0x20, 0x01, 0x01, 0x00, 0x00, 0x00};
	FstFspPacket pkt;
	fst_fsp_put_u32(raw + 6, fst_fsp_crc32(0, raw, 6));
	g_assert_cmpint(
	    fst_fsp_packet_parse(raw, sizeof(raw), 256, &pkt), ==, FST_FSP_DEC_ERR_VERSION);
	raw[0] = 0x10;
	fst_fsp_put_u32(raw + 6, fst_fsp_crc32(0, raw, 6));
	g_assert_cmpint(fst_fsp_packet_parse(raw, sizeof(raw), 256, &pkt), ==, FST_FSP_DEC_FRAME);
	g_assert_cmpuint(pkt.len, ==, 0);
}

static void
test_cursor(void)
{
	const guint8 data[] = {0x01, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12};
	guint8 out[6];
	FstFspCursor c;
	guint8 tag;
	const guint8 *value;
	guint16 vlen;

	fst_fsp_reader_init(&c, data, sizeof(data));
	g_assert_cmpuint(fst_fsp_read_u8(&c), ==, 0x01);
	g_assert_cmphex(fst_fsp_read_u16(&c), ==, 0x1234);
	g_assert_cmphex(fst_fsp_read_u32(&c), ==, 0x12345678);
	g_assert_false(c.error);
	/* past the end: zero and a sticky error, and nothing more can be read */
	g_assert_cmpuint(fst_fsp_read_u8(&c), ==, 0);
	g_assert_true(c.error);
	g_assert_null(fst_fsp_read_bytes(&c, 0));

	fst_fsp_writer_init(&c, out, sizeof(out));
	fst_fsp_write_u32(&c, 0xdeadbeef);
	fst_fsp_write_u16(&c, 0xabcd);
	g_assert_false(c.error);
	fst_fsp_write_u8(&c, 1);
	g_assert_true(c.error);
	g_assert_cmpuint(c.pos, ==, 6);

	/* TLVs: a good one, then one whose length runs past the end */
	{
		guint8 tlv[16];
		fst_fsp_writer_init(&c, tlv, sizeof(tlv));
		fst_fsp_tlv_put_u16(&c, 0x09, 512);
		fst_fsp_tlv_put(&c, 0x02, "ab", 2);
		g_assert_false(c.error);
		tlv[c.pos++] = 0x03;
		tlv[c.pos++] = 0x10; /* says 16 bytes */
		tlv[c.pos++] = 0x00;
		fst_fsp_reader_init(&c, tlv, c.pos);
		g_assert_true(fst_fsp_tlv_next(&c, &tag, &value, &vlen));
		g_assert_cmpuint(tag, ==, 0x09);
		g_assert_cmpuint(fst_fsp_get_u16(value), ==, 512);
		g_assert_true(fst_fsp_tlv_next(&c, &tag, &value, &vlen));
		g_assert_cmpmem(value, vlen, "ab", 2);
		g_assert_false(fst_fsp_tlv_next(&c, &tag, &value, &vlen));
		g_assert_true(c.error);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/fsp/wire/crc32", test_crc32);
	g_test_add_func("/fst/fsp/wire/cobs-vectors", test_cobs_vectors);
	g_test_add_func("/fst/fsp/wire/round-trip-all-sizes", test_round_trip);
	g_test_add_func("/fst/fsp/wire/rejects-corrupt", test_corrupt_rejected);
	g_test_add_func("/fst/fsp/wire/rejects-truncated", test_truncated_rejected);
	g_test_add_func("/fst/fsp/wire/resyncs-after-garbage", test_resync_after_garbage);
	g_test_add_func("/fst/fsp/wire/split-feeds", test_split_feeds);
	g_test_add_func("/fst/fsp/wire/rejects-oversize", test_oversize_rejected);
	g_test_add_func("/fst/fsp/wire/decoder-bounds", test_decoder_bounds);
	g_test_add_func("/fst/fsp/wire/rejects-bad-version", test_version_rejected);
	g_test_add_func("/fst/fsp/wire/cursor-bounds", test_cursor);
	return g_test_run();
}
