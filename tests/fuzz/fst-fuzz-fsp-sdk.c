/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the device SDK's request handling (fst_dev_rx) with an in-memory
 * HAL. Two input modes:
 *   - first byte 0x00: a raw byte stream, as the station sends it (frames
 *     start with a delimiter), to fuzz the decoder in front of the parser;
 *   - otherwise: records of type(u8) length(u16 LE) payload, each wrapped in
 *     a valid frame, so that the fuzzer reaches the command parsers without
 *     having to guess CRCs.
 * Every response the SDK sends must itself be a valid frame. The raw mode
 * runs a device with one credential slot, the structured mode one with A/B
 * slots (objects 0x04/0x05, slot bytes, ACTIVATE).
 */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fst-dev.h"

#define CAP 4096u
#define N_OBJ 6

typedef struct {
	uint8_t data[N_OBJ][CAP];
	uint32_t len[N_OBJ];
	int present[N_OBJ];
	uint8_t staged[N_OBJ][CAP];
	uint32_t staged_len[N_OBJ];
	uint32_t key_len; /* PUT_KEY bytes received */
	uint8_t key_slot; /* slot of the PUT_KEY in progress */
	int has_key[2];   /* committed key per credential slot */
	int staged_key[2];
	int active;
	uint8_t n_slots; /* of the identity in use */
	int locked;
	FstFspDecoder dec;
	uint8_t dec_buf[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD)];
} MemHal;

static MemHal mem;

static int
slot(uint8_t id)
{
	switch (id) {
	case FST_FSP_OBJ_DEVICE_CERT:
		return 0;
	case FST_FSP_OBJ_CA_CHAIN:
		return 1;
	case FST_FSP_OBJ_TRUST_ROOTS:
		return 2;
	case FST_FSP_OBJ_CSR:
		return 3;
	case FST_FSP_OBJ_DEVICE_CERT_B:
		return 4;
	case FST_FSP_OBJ_CA_CHAIN_B:
		return 5;
	default:
		break;
	}
	return -1;
}

static int
m_uart_write(void *user, const uint8_t *buf, size_t len)
{
	MemHal *m = user;
	(void)m;
	for (size_t i = 0; i < len; i++) {
		FstFspPacket pkt;
		int rc = fst_fsp_decoder_push(&m->dec, buf[i], &pkt);
		if (rc < 0)
			abort(); /* the SDK sent a broken frame */
		if (rc == FST_FSP_DEC_FRAME &&
		    ((pkt.type & FST_FSP_RESPONSE_BIT) == 0 || pkt.len < 1))
			abort(); /* not a response, or no status byte */
	}
	return 0;
}

static int
m_obj_length(void *user, uint8_t id, uint32_t *len)
{
	MemHal *m = user;
	int s = slot(id);
	if (s < 0 || !m->present[s])
		return FST_FSP_STATUS_NOT_FOUND;
	*len = m->len[s];
	return 0;
}

static int
m_obj_read(void *user, uint8_t id, uint32_t offset, uint8_t *buf, size_t len)
{
	MemHal *m = user;
	int s = slot(id);
	if (s < 0 || !m->present[s] || offset > m->len[s] || len > m->len[s] - offset)
		abort(); /* the SDK must have checked this */
	memcpy(buf, m->data[s] + offset, len);
	return 0;
}

static int
m_obj_digest(void *user, uint8_t id, uint8_t sha[32])
{
	MemHal *m = user;
	int s = slot(id);
	if (s < 0 || !m->present[s])
		return FST_FSP_STATUS_NOT_FOUND;
	SHA256(m->data[s], m->len[s], sha);
	return 0;
}

static int
m_obj_erase(void *user, uint8_t id)
{
	MemHal *m = user;
	int s = slot(id);
	if (s < 0)
		return FST_FSP_STATUS_NOT_FOUND;
	m->present[s] = 0;
	return 0;
}

static int
m_stage_begin(void *user, uint8_t id)
{
	MemHal *m = user;
	int s = slot(id);
	if (s < 0)
		return FST_FSP_STATUS_NOT_FOUND;
	m->staged_len[s] = 0;
	return 0;
}

static int
m_stage_write(void *user, uint8_t id, uint32_t offset, const uint8_t *buf, size_t len)
{
	MemHal *m = user;
	int s = slot(id);
	/* the SDK promises contiguous writes within the capacity, never when
	 * locked */
	if (s < 0 || m->locked || offset != m->staged_len[s] || len > CAP - offset)
		abort();
	memcpy(m->staged[s] + offset, buf, len);
	m->staged_len[s] += (uint32_t)len;
	return 0;
}

static int
m_stage_digest(void *user, uint8_t id, uint32_t len, uint8_t sha[32])
{
	MemHal *m = user;
	int s = slot(id);
	if (s < 0 || len != m->staged_len[s])
		abort();
	SHA256(m->staged[s], len, sha);
	return 0;
}

static int
m_stage_commit(void *user, uint8_t id, uint32_t len)
{
	MemHal *m = user;
	int s = slot(id);
	if (s < 0 || len != m->staged_len[s])
		abort();
	memcpy(m->data[s], m->staged[s], len);
	m->len[s] = len;
	m->present[s] = 1;
	/* a device certificate promotes the staged key of its slot only */
	if (id == FST_FSP_OBJ_DEVICE_CERT || id == FST_FSP_OBJ_DEVICE_CERT_B) {
		int k = id == FST_FSP_OBJ_DEVICE_CERT ? 0 : 1;
		if (m->staged_key[k]) {
			m->has_key[k] = 1;
			m->staged_key[k] = 0;
		}
	}
	return 0;
}

static int
m_keygen(void *user, uint8_t kslot, uint32_t key_type, uint32_t *csr_len)
{
	MemHal *m = user;
	if (key_type != 1 && key_type != 2)
		abort(); /* the SDK filtered unsupported types */
	if (kslot >= m->n_slots)
		abort(); /* and slots the device does not have */
	m->staged_key[kslot] = 1;
	memset(m->data[3], 0x30, 300);
	m->len[3] = 300;
	m->present[3] = 1;
	*csr_len = 300;
	return 0;
}

static int
m_sign(void *user, uint8_t kslot, const uint8_t *msg, size_t msg_len, uint32_t *sig_len)
{
	MemHal *m = user;
	if (kslot >= m->n_slots)
		abort();
	if (!m->has_key[kslot] && !m->staged_key[kslot])
		return FST_FSP_STATUS_NO_KEY;
	/* the SDK signs its own prefix and a nonce, nothing else */
	if (msg_len != FST_FSP_POP_MESSAGE_LEN ||
	    memcmp(msg, FST_FSP_POP_PREFIX, FST_FSP_POP_PREFIX_LEN) != 0)
		abort();
	*sig_len = 72;
	return 0;
}

static int
m_put_key(void *user,
          uint8_t kslot,
          uint32_t key_type,
          uint32_t offset,
          uint32_t total,
          const uint8_t *buf,
          size_t len)
{
	MemHal *m = user;
	(void)buf;
	/* contiguous chunks of a bounded key of one supported type */
	if (m->locked || (key_type != 1 && key_type != 2) || total == 0 ||
	    total > FST_FSP_PUT_KEY_MAX || len == 0 || len > total - offset || kslot >= m->n_slots)
		abort();
	if (offset == 0) {
		m->key_len = 0;
		m->key_slot = kslot;
	}
	/* continuation chunks stay in the slot the key started in */
	if (offset != m->key_len || kslot != m->key_slot)
		abort();
	m->key_len += (uint32_t)len;
	if (m->key_len == total)
		m->staged_key[kslot] = 1;
	return 0;
}

static int
m_lock(void *user)
{
	MemHal *m = user;
	m->locked = 1;
	return 0;
}

static int
m_is_locked(void *user)
{
	MemHal *m = user;
	return m->locked;
}

static int
m_activate(void *user, uint8_t kslot)
{
	MemHal *m = user;
	/* the SDK checks the slot, the lock and the certificate first */
	if (kslot >= m->n_slots || m->locked || !m->present[kslot == 0 ? 0 : 4])
		abort();
	if (!m->has_key[kslot])
		return FST_FSP_STATUS_NOT_FOUND;
	m->active = kslot;
	return 0;
}

static int
m_active_slot(void *user)
{
	MemHal *m = user;
	return m->active;
}

static const FstDevHal hal = {
    .user = &mem,
    .uart_write = m_uart_write,
    .obj_length = m_obj_length,
    .obj_read = m_obj_read,
    .obj_digest = m_obj_digest,
    .obj_erase = m_obj_erase,
    .stage_begin = m_stage_begin,
    .stage_write = m_stage_write,
    .stage_digest = m_stage_digest,
    .stage_commit = m_stage_commit,
    .keygen = m_keygen,
    .sign = m_sign,
    .put_key = m_put_key,
    .lock = m_lock,
    .is_locked = m_is_locked,
    .activate = m_activate,
    .active_slot = m_active_slot,
};

static const FstDevIdentity identity_ab = {
    .uid = "FUZZ-2",
    .model = "fuzz-ab",
    .firmware = "0",
    .key_types = 3,
    .validation = 7,
    .caps = FST_FSP_CAP_CSR | FST_FSP_CAP_SIGN | FST_FSP_CAP_PUT_KEY | FST_FSP_CAP_LOCK,
    .format = 1,
    .objects = {{FST_FSP_OBJ_DEVICE_CERT, 0, 1024},
                {FST_FSP_OBJ_CA_CHAIN, 0, 2048},
                {FST_FSP_OBJ_TRUST_ROOTS, 0, CAP},
                {FST_FSP_OBJ_CSR, FST_FSP_OBJ_FLAG_READ_ONLY, CAP},
                {FST_FSP_OBJ_DEVICE_CERT_B, 0, 1024},
                {FST_FSP_OBJ_CA_CHAIN_B, 0, 2048}},
    .n_objects = 6,
    .cred_slots = 2,
};

static const FstDevIdentity identity = {
    .uid = "FUZZ-1",
    .model = "fuzz",
    .firmware = "0",
    .key_types = 3,
    .validation = 7,
    /* NAK: a corrupt frame in the raw stream is answered, when HELLO asked */
    .caps = FST_FSP_CAP_CSR | FST_FSP_CAP_SIGN | FST_FSP_CAP_PUT_KEY | FST_FSP_CAP_LOCK |
            FST_FSP_CAP_NAK,
    .format = 0,
    .objects = {{FST_FSP_OBJ_DEVICE_CERT, 0, 1024},
                {FST_FSP_OBJ_CA_CHAIN, 0, 2048},
                {FST_FSP_OBJ_TRUST_ROOTS, 0, CAP},
                {FST_FSP_OBJ_CSR, FST_FSP_OBJ_FLAG_READ_ONLY, CAP}},
    .n_objects = 4,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FstDevCtx ctx;
	static uint8_t frame[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD)];
	size_t pos = 1;
	uint16_t seq = 0;

	const FstDevIdentity *id = size > 0 && data[0] == 0x00 ? &identity : &identity_ab;

	memset(&mem, 0, sizeof(mem));
	mem.n_slots = id->cred_slots > 1 ? id->cred_slots : 1;
	fst_fsp_decoder_init(&mem.dec, mem.dec_buf, sizeof(mem.dec_buf), FST_DEV_MAX_PAYLOAD);
	if (fst_dev_init(&ctx, &hal, id) != 0)
		abort();
	if (size == 0)
		return 0;
	if (data[0] == 0x00) {
		fst_dev_rx(&ctx, data, size);
		return 0;
	}
	/* structured records */
	pos = 0;
	while (size - pos >= 3) {
		FstFspPacket pkt = {.version = FST_FSP_VERSION};
		size_t n;
		uint16_t len = (uint16_t)(data[pos + 1] | (data[pos + 2] << 8));
		pkt.type = data[pos];
		pos += 3;
		if (len > size - pos)
			len = (uint16_t)(size - pos);
		if (len > FST_DEV_MAX_PAYLOAD)
			len = FST_DEV_MAX_PAYLOAD;
		/* bit 0x40 of the type repeats the last sequence number, to hit the
		 * replay cache */
		pkt.seq = (pkt.type & 0x40) ? seq : ++seq;
		pkt.type &= (uint8_t)~0x40u;
		pkt.len = len;
		pkt.payload = data + pos;
		pos += len;
		n = fst_fsp_packet_encode(&pkt, frame, sizeof(frame));
		if (n == 0)
			abort();
		fst_dev_rx(&ctx, frame, n);
	}
	return 0;
}
