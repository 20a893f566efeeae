/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FSP v1 wire codec; see fst-fsp-wire.h and protocols/fsp/README.md.
 *
 * Portable C99 on purpose: the same file is compiled into MCU firmware through
 * the device SDK, so no GLib, no malloc and no OS calls here.
 */
#include "fst-fsp-wire.h"

#include <string.h>

/* crc */

/* CRC-32/ISO-HDLC table (reflected polynomial 0xedb88320); const so that it
 * lives in flash on an MCU and needs no initialisation */
static const uint32_t fst_fsp_crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u,
    0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu,
    0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du,
    0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu,
    0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu,
    0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau,
    0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu,
    0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u,
    0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u,
    0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u, 0x8708a3d2u, 0x1e01f268u,
    0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u,
    0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u,
    0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u,
    0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu,
    0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u, 0x88085ae6u,
    0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du,
    0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u,
    0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

/* @crc is the value returned by a previous call, or 0 to start */
uint32_t
fst_fsp_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
	crc ^= 0xffffffffu;
	for (size_t i = 0; i < len; i++)
		crc = fst_fsp_crc_table[(crc ^ buf[i]) & 0xffu] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

/* little-endian fields */

uint16_t
fst_fsp_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

uint32_t
fst_fsp_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

void
fst_fsp_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xffu);
	p[1] = (uint8_t)(v >> 8);
}

void
fst_fsp_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v & 0xffu);
	p[1] = (uint8_t)((v >> 8) & 0xffu);
	p[2] = (uint8_t)((v >> 16) & 0xffu);
	p[3] = (uint8_t)(v >> 24);
}

/* cobs: a streaming encoder, so that a packet is encoded from its parts
 * (header, payload, crc) without first copying them into one buffer */

typedef struct {
	uint8_t *out;
	size_t cap;
	size_t pos;      /* next free byte */
	size_t code_pos; /* where the current block's code byte goes */
	uint8_t code;
	bool error;
} FstFspCobsEnc;

static void
fst_fsp_cobs_enc_init(FstFspCobsEnc *e, uint8_t *out, size_t cap)
{
	e->out = out;
	e->cap = cap;
	e->code_pos = 0;
	e->pos = 1;
	e->code = 1;
	e->error = cap < 1;
}

static void
fst_fsp_cobs_enc_put(FstFspCobsEnc *e, uint8_t byte)
{
	if (e->error)
		return;
	if (byte != 0) {
		if (e->pos >= e->cap) {
			e->error = true;
			return;
		}
		e->out[e->pos++] = byte;
		e->code++;
	}
	if (byte == 0 || e->code == 0xff) {
		/* close the block */
		e->out[e->code_pos] = e->code;
		if (e->pos >= e->cap) {
			e->error = true;
			return;
		}
		e->code_pos = e->pos++;
		e->code = 1;
	}
}

static size_t
fst_fsp_cobs_enc_finish(FstFspCobsEnc *e)
{
	if (e->error)
		return 0;
	e->out[e->code_pos] = e->code;
	return e->pos;
}

size_t
fst_fsp_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap)
{
	FstFspCobsEnc e;
	fst_fsp_cobs_enc_init(&e, out, out_cap);
	for (size_t i = 0; i < len; i++)
		fst_fsp_cobs_enc_put(&e, in[i]);
	return fst_fsp_cobs_enc_finish(&e);
}

/* may run in place (@out == @in): the output never overtakes the input */
size_t
fst_fsp_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap)
{
	size_t ip = 0;
	size_t op = 0;

	if (len == 0)
		return 0;
	while (ip < len) {
		uint8_t code = in[ip++];
		if (code == 0)
			return 0; /* a delimiter inside a frame */
		if ((size_t)(code - 1) > len - ip)
			return 0; /* block runs past the end */
		if ((size_t)(code - 1) > out_cap - op)
			return 0;
		for (uint8_t i = 1; i < code; i++) {
			if (in[ip] == 0)
				return 0;
			out[op++] = in[ip++];
		}
		/* a short block implies a zero, unless it ends the frame */
		if (code != 0xff && ip < len) {
			if (op >= out_cap)
				return 0;
			out[op++] = 0;
		}
	}
	return op;
}

/* packets */

size_t
fst_fsp_packet_encode(const FstFspPacket *pkt, uint8_t *out, size_t out_cap)
{
	uint8_t hdr[FST_FSP_HEADER_SIZE];
	uint8_t trailer[FST_FSP_TRAILER_SIZE];
	uint32_t crc;
	FstFspCobsEnc e;
	size_t n;

	if (pkt->len > 0 && pkt->payload == NULL)
		return 0;
	if (pkt->len > FST_FSP_MAX_PAYLOAD_LIMIT || out_cap < 2)
		return 0;
	hdr[0] = (uint8_t)((FST_FSP_VERSION << 4) | (pkt->flags & 0x0fu));
	hdr[1] = pkt->type;
	fst_fsp_put_u16(hdr + 2, pkt->seq);
	fst_fsp_put_u16(hdr + 4, pkt->len);
	crc = fst_fsp_crc32(0, hdr, sizeof(hdr));
	if (pkt->len > 0)
		crc = fst_fsp_crc32(crc, pkt->payload, pkt->len);
	fst_fsp_put_u32(trailer, crc);

	/* keep one byte for the delimiter */
	fst_fsp_cobs_enc_init(&e, out, out_cap - 1);
	for (size_t i = 0; i < sizeof(hdr); i++)
		fst_fsp_cobs_enc_put(&e, hdr[i]);
	for (size_t i = 0; i < pkt->len; i++)
		fst_fsp_cobs_enc_put(&e, pkt->payload[i]);
	for (size_t i = 0; i < sizeof(trailer); i++)
		fst_fsp_cobs_enc_put(&e, trailer[i]);
	n = fst_fsp_cobs_enc_finish(&e);
	if (n == 0)
		return 0;
	out[n++] = 0x00;
	return n;
}

int
fst_fsp_packet_parse(const uint8_t *raw, size_t len, size_t max_payload, FstFspPacket *pkt)
{
	uint16_t plen;
	uint32_t crc;

	if (len < FST_FSP_OVERHEAD)
		return FST_FSP_DEC_ERR_TRUNCATED;
	plen = fst_fsp_get_u16(raw + 4);
	if (plen > max_payload)
		return FST_FSP_DEC_ERR_OVERSIZE;
	if ((size_t)plen + FST_FSP_OVERHEAD != len)
		return FST_FSP_DEC_ERR_TRUNCATED;
	crc = fst_fsp_crc32(0, raw, len - FST_FSP_TRAILER_SIZE);
	if (crc != fst_fsp_get_u32(raw + len - FST_FSP_TRAILER_SIZE))
		return FST_FSP_DEC_ERR_CRC;
	/* checked after the CRC: a corrupt byte is a CRC error, not a version */
	if ((raw[0] >> 4) != FST_FSP_VERSION)
		return FST_FSP_DEC_ERR_VERSION;
	pkt->version = (uint8_t)(raw[0] >> 4);
	pkt->flags = (uint8_t)(raw[0] & 0x0fu);
	pkt->type = raw[1];
	pkt->seq = fst_fsp_get_u16(raw + 2);
	pkt->len = plen;
	pkt->payload = raw + FST_FSP_HEADER_SIZE;
	return FST_FSP_DEC_FRAME;
}

/* incremental decoder */

void
fst_fsp_decoder_init(FstFspDecoder *dec, uint8_t *buf, size_t cap, size_t max_payload)
{
	memset(dec, 0, sizeof(*dec));
	dec->buf = buf;
	dec->cap = cap;
	dec->max_payload =
	    max_payload > FST_FSP_MAX_PAYLOAD_LIMIT ? FST_FSP_MAX_PAYLOAD_LIMIT : max_payload;
}

void
fst_fsp_decoder_reset(FstFspDecoder *dec)
{
	dec->len = 0;
	dec->discarding = false;
}

int
fst_fsp_decoder_push(FstFspDecoder *dec, uint8_t byte, FstFspPacket *pkt)
{
	size_t n;
	int rc;

	if (byte != 0x00) {
		if (dec->discarding)
			return FST_FSP_DEC_NONE;
		if (dec->len >= dec->cap) {
			/* too long for any frame we accept: drop it whole */
			dec->discarding = true;
			dec->len = 0;
			dec->n_oversize++;
			return FST_FSP_DEC_ERR_OVERSIZE;
		}
		dec->buf[dec->len++] = byte;
		return FST_FSP_DEC_NONE;
	}

	/* delimiter: end of a frame (or of junk) */
	if (dec->discarding) {
		dec->discarding = false;
		dec->len = 0;
		return FST_FSP_DEC_NONE;
	}
	if (dec->len == 0)
		return FST_FSP_DEC_NONE; /* idle delimiters are allowed */
	n = fst_fsp_cobs_decode(dec->buf, dec->len, dec->buf, dec->cap);
	dec->len = 0;
	if (n == 0) {
		dec->n_bad_cobs++;
		return FST_FSP_DEC_ERR_COBS;
	}
	rc = fst_fsp_packet_parse(dec->buf, n, dec->max_payload, pkt);
	switch (rc) {
	case FST_FSP_DEC_FRAME:
		dec->n_frames++;
		break;
	case FST_FSP_DEC_ERR_CRC:
		dec->n_bad_crc++;
		break;
	case FST_FSP_DEC_ERR_OVERSIZE:
		dec->n_oversize++;
		break;
	case FST_FSP_DEC_ERR_VERSION:
		dec->n_bad_version++;
		break;
	case FST_FSP_DEC_ERR_TRUNCATED:
	default:
		dec->n_truncated++;
		break;
	}
	return rc;
}

const char *
fst_fsp_decoder_result_to_string(int result)
{
	switch (result) {
	case FST_FSP_DEC_NONE:
		return "incomplete";
	case FST_FSP_DEC_FRAME:
		return "frame";
	case FST_FSP_DEC_ERR_CRC:
		return "bad crc";
	case FST_FSP_DEC_ERR_COBS:
		return "bad cobs encoding";
	case FST_FSP_DEC_ERR_OVERSIZE:
		return "oversize frame";
	case FST_FSP_DEC_ERR_TRUNCATED:
		return "truncated frame";
	case FST_FSP_DEC_ERR_VERSION:
		return "unsupported protocol version";
	default:
		break;
	}
	return "unknown";
}

/* cursor */

void
fst_fsp_reader_init(FstFspCursor *c, const uint8_t *buf, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->rbuf = buf;
	c->len = buf != NULL ? len : 0;
}

void
fst_fsp_writer_init(FstFspCursor *c, uint8_t *buf, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->wbuf = buf;
	c->len = buf != NULL ? cap : 0;
}

size_t
fst_fsp_cursor_remaining(const FstFspCursor *c)
{
	return c->error ? 0 : c->len - c->pos;
}

const uint8_t *
fst_fsp_read_bytes(FstFspCursor *c, size_t n)
{
	const uint8_t *p;
	if (c->error || c->rbuf == NULL || n > c->len - c->pos) {
		c->error = true;
		return NULL;
	}
	p = c->rbuf + c->pos;
	c->pos += n;
	return p;
}

uint8_t
fst_fsp_read_u8(FstFspCursor *c)
{
	const uint8_t *p = fst_fsp_read_bytes(c, 1);
	return p != NULL ? p[0] : 0;
}

uint16_t
fst_fsp_read_u16(FstFspCursor *c)
{
	const uint8_t *p = fst_fsp_read_bytes(c, 2);
	return p != NULL ? fst_fsp_get_u16(p) : 0;
}

uint32_t
fst_fsp_read_u32(FstFspCursor *c)
{
	const uint8_t *p = fst_fsp_read_bytes(c, 4);
	return p != NULL ? fst_fsp_get_u32(p) : 0;
}

uint8_t *
fst_fsp_write_reserve(FstFspCursor *c, size_t n)
{
	uint8_t *p;
	if (c->error || c->wbuf == NULL || n > c->len - c->pos) {
		c->error = true;
		return NULL;
	}
	p = c->wbuf + c->pos;
	c->pos += n;
	return p;
}

void
fst_fsp_write_u8(FstFspCursor *c, uint8_t v)
{
	uint8_t *p = fst_fsp_write_reserve(c, 1);
	if (p != NULL)
		p[0] = v;
}

void
fst_fsp_write_u16(FstFspCursor *c, uint16_t v)
{
	uint8_t *p = fst_fsp_write_reserve(c, 2);
	if (p != NULL)
		fst_fsp_put_u16(p, v);
}

void
fst_fsp_write_u32(FstFspCursor *c, uint32_t v)
{
	uint8_t *p = fst_fsp_write_reserve(c, 4);
	if (p != NULL)
		fst_fsp_put_u32(p, v);
}

void
fst_fsp_write_bytes(FstFspCursor *c, const uint8_t *data, size_t n)
{
	uint8_t *p = fst_fsp_write_reserve(c, n);
	if (p != NULL && n > 0)
		memmove(p, data, n);
}

/* tlv */

void
fst_fsp_tlv_put(FstFspCursor *c, uint8_t tag, const void *value, size_t len)
{
	if (len > 0xffffu) {
		c->error = true;
		return;
	}
	fst_fsp_write_u8(c, tag);
	fst_fsp_write_u16(c, (uint16_t)len);
	fst_fsp_write_bytes(c, (const uint8_t *)value, len);
}

void
fst_fsp_tlv_put_u8(FstFspCursor *c, uint8_t tag, uint8_t v)
{
	fst_fsp_tlv_put(c, tag, &v, 1);
}

void
fst_fsp_tlv_put_u16(FstFspCursor *c, uint8_t tag, uint16_t v)
{
	uint8_t b[2];
	fst_fsp_put_u16(b, v);
	fst_fsp_tlv_put(c, tag, b, sizeof(b));
}

void
fst_fsp_tlv_put_u32(FstFspCursor *c, uint8_t tag, uint32_t v)
{
	uint8_t b[4];
	fst_fsp_put_u32(b, v);
	fst_fsp_tlv_put(c, tag, b, sizeof(b));
}

bool
fst_fsp_tlv_next(FstFspCursor *c, uint8_t *tag, const uint8_t **value, uint16_t *len)
{
	uint16_t l;
	const uint8_t *v;

	if (fst_fsp_cursor_remaining(c) == 0)
		return false;
	*tag = fst_fsp_read_u8(c);
	l = fst_fsp_read_u16(c);
	v = fst_fsp_read_bytes(c, l);
	if (c->error)
		return false;
	*value = v;
	*len = l;
	return true;
}

/* names */

const char *
fst_fsp_status_to_string(uint8_t status)
{
	switch (status) {
	case FST_FSP_STATUS_OK:
		return "ok";
	case FST_FSP_STATUS_UNKNOWN_COMMAND:
		return "unknown command";
	case FST_FSP_STATUS_BAD_ARGUMENTS:
		return "bad arguments";
	case FST_FSP_STATUS_STORAGE_FULL:
		return "storage full";
	case FST_FSP_STATUS_BAD_HASH:
		return "bad hash";
	case FST_FSP_STATUS_LOCKED:
		return "locked";
	case FST_FSP_STATUS_UNSUPPORTED:
		return "unsupported";
	case FST_FSP_STATUS_BUSY:
		return "busy";
	case FST_FSP_STATUS_NOT_FOUND:
		return "not found";
	case FST_FSP_STATUS_INTERNAL:
		return "internal error";
	case FST_FSP_STATUS_KEYGEN_FAILED:
		return "key generation failed";
	case FST_FSP_STATUS_BAD_OFFSET:
		return "bad offset";
	case FST_FSP_STATUS_READ_ONLY:
		return "read-only object";
	case FST_FSP_STATUS_BAD_VERSION:
		return "unsupported protocol version";
	case FST_FSP_STATUS_STORAGE_FAILED:
		return "storage failed";
	case FST_FSP_STATUS_NO_KEY:
		return "no key";
	case FST_FSP_STATUS_BAD_KEY:
		return "bad key";
	default:
		break;
	}
	return "unknown status";
}

const char *
fst_fsp_command_to_string(uint8_t type)
{
	switch (type & (uint8_t)~FST_FSP_RESPONSE_BIT) {
	case FST_FSP_CMD_HELLO:
		return "HELLO";
	case FST_FSP_CMD_KEYGEN:
		return "KEYGEN";
	case FST_FSP_CMD_WRITE:
		return "WRITE";
	case FST_FSP_CMD_COMMIT:
		return "COMMIT";
	case FST_FSP_CMD_READ:
		return "READ";
	case FST_FSP_CMD_LIST:
		return "LIST";
	case FST_FSP_CMD_ERASE:
		return "ERASE";
	case FST_FSP_CMD_SIGN_CHALLENGE:
		return "SIGN_CHALLENGE";
	case FST_FSP_CMD_PUT_KEY:
		return "PUT_KEY";
	case FST_FSP_CMD_LOCK:
		return "LOCK";
	case FST_FSP_CMD_ACTIVATE:
		return "ACTIVATE";
	case FST_FSP_CMD_DIGEST:
		return "DIGEST";
	default:
		break;
	}
	return "UNKNOWN";
}
