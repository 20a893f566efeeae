/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FSP v1 wire codec: the single frame-layout header shared by the station
 * driver (fst-fsp-device.c) and the device SDK (protocols/sdk/fst-dev.c).
 *
 * Portable C99: no GLib, no malloc, no OS calls. Every buffer is owned by the
 * caller; every read of received data goes through the bounds-checked cursor.
 * The specification is protocols/fsp/README.md; keep the two in step.
 */
#ifndef FST_FSP_WIRE_H
#define FST_FSP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* protocol version carried in the high nibble of the first packet byte */
#define FST_FSP_VERSION 1u

/* decoded packet: ver/flags(1) type(1) seq(2) len(2) payload(len) crc32(4) */
#define FST_FSP_HEADER_SIZE 6u
#define FST_FSP_TRAILER_SIZE 4u
#define FST_FSP_OVERHEAD (FST_FSP_HEADER_SIZE + FST_FSP_TRAILER_SIZE)

/* payload limits: every device accepts FST_FSP_DEFAULT_PAYLOAD before HELLO;
 * no side may ever negotiate more than FST_FSP_MAX_PAYLOAD_LIMIT in v1 */
#define FST_FSP_DEFAULT_PAYLOAD 256u
#define FST_FSP_MIN_PAYLOAD 64u
#define FST_FSP_MAX_PAYLOAD_LIMIT 4096u

/* worst-case COBS size of @n raw bytes (one code byte per 254 data bytes + 1) */
#define FST_FSP_COBS_MAX(n) ((n) + (n) / 254u + 1u)
/* worst-case bytes on the wire for a packet with @payload bytes, with the
 * 0x00 delimiter */
#define FST_FSP_ENCODED_MAX(payload) (FST_FSP_COBS_MAX((payload) + FST_FSP_OVERHEAD) + 1u)

/* the type of a response is the request type with this bit set */
#define FST_FSP_RESPONSE_BIT 0x80u

/**
 * FstFspCommand:
 *
 * Request types (u8). Values are frozen; new commands take new values.
 */
typedef enum {
	FST_FSP_CMD_HELLO = 0x01,
	FST_FSP_CMD_KEYGEN = 0x02,
	FST_FSP_CMD_WRITE = 0x03,
	FST_FSP_CMD_COMMIT = 0x04,
	FST_FSP_CMD_READ = 0x05,
	FST_FSP_CMD_LIST = 0x06,
	FST_FSP_CMD_ERASE = 0x07,
	/* optional commands: a device without the matching FST_FSP_CAP_* bit
	 * answers UNSUPPORTED */
	FST_FSP_CMD_SIGN_CHALLENGE = 0x08,
	FST_FSP_CMD_PUT_KEY = 0x09,
	FST_FSP_CMD_LOCK = 0x0a,
	/* devices with more than one credential slot (HELLO TLV CRED_SLOTS) */
	FST_FSP_CMD_ACTIVATE = 0x0b,
	/* optional: the device re-reads an object from its storage and answers
	 * its length and SHA-256 (FST_FSP_CAP_DIGEST) */
	FST_FSP_CMD_DIGEST = 0x0c,
} FstFspCommand;

/**
 * FstFspStatus:
 *
 * First byte of every response payload. Values are frozen.
 */
typedef enum {
	FST_FSP_STATUS_OK = 0x00,
	FST_FSP_STATUS_UNKNOWN_COMMAND = 0x01,
	FST_FSP_STATUS_BAD_ARGUMENTS = 0x02,
	FST_FSP_STATUS_STORAGE_FULL = 0x03,
	FST_FSP_STATUS_BAD_HASH = 0x04,
	FST_FSP_STATUS_LOCKED = 0x05,
	FST_FSP_STATUS_UNSUPPORTED = 0x06,
	FST_FSP_STATUS_BUSY = 0x07,
	FST_FSP_STATUS_NOT_FOUND = 0x08,
	FST_FSP_STATUS_INTERNAL = 0x09,
	FST_FSP_STATUS_KEYGEN_FAILED = 0x0a,
	FST_FSP_STATUS_BAD_OFFSET = 0x0b,
	FST_FSP_STATUS_READ_ONLY = 0x0c,
	FST_FSP_STATUS_BAD_VERSION = 0x0d,
	FST_FSP_STATUS_STORAGE_FAILED = 0x0e,
	FST_FSP_STATUS_NO_KEY = 0x0f,  /* SIGN_CHALLENGE: the key slot is empty */
	FST_FSP_STATUS_BAD_KEY = 0x10, /* PUT_KEY: the key does not parse or match its type */
} FstFspStatus;

/**
 * FstFspObjectId:
 *
 * Storage object ids (u8). 1..3 match FstObjectKind.
 */
typedef enum {
	FST_FSP_OBJ_DEVICE_CERT = 0x01,
	FST_FSP_OBJ_CA_CHAIN = 0x02,
	FST_FSP_OBJ_TRUST_ROOTS = 0x03,
	/* credential slot 1 (B) of a device with CRED_SLOTS 2; slot 0 (A) is
	 * 0x01/0x02, the trust roots are shared */
	FST_FSP_OBJ_DEVICE_CERT_B = 0x04,
	FST_FSP_OBJ_CA_CHAIN_B = 0x05,
	FST_FSP_OBJ_CSR = 0x10,
	FST_FSP_OBJ_SIGNATURE = 0x11,
} FstFspObjectId;

/* object flags in HELLO and LIST */
#define FST_FSP_OBJ_FLAG_READ_ONLY 0x01u
#define FST_FSP_OBJ_FLAG_PRESENT 0x02u

/**
 * FstFspTag:
 *
 * TLV tags of the HELLO response: tag(u8) length(u16 LE) value. Receivers skip
 * tags they do not know, so fields can be added without a version bump.
 */
typedef enum {
	FST_FSP_TAG_PROTOCOL_VERSION = 0x01, /* u8 */
	FST_FSP_TAG_UID = 0x02,              /* printable ASCII, 1..64 */
	FST_FSP_TAG_MODEL = 0x03,            /* printable ASCII, 0..64 */
	FST_FSP_TAG_FIRMWARE = 0x04,         /* printable ASCII, 0..64 */
	FST_FSP_TAG_KEY_TYPES = 0x05,        /* u32, FstKeyType bits */
	FST_FSP_TAG_VALIDATION = 0x06,       /* u32, FstValidation bits */
	FST_FSP_TAG_CAPS = 0x07,             /* u32, FST_FSP_CAP_* bits */
	FST_FSP_TAG_FORMAT = 0x08,           /* u8, 0 = PEM, 1 = DER */
	FST_FSP_TAG_MAX_PAYLOAD = 0x09,      /* u16 */
	FST_FSP_TAG_OBJECT = 0x0a,           /* id u8, flags u8, capacity u32, length u32 */
	FST_FSP_TAG_STATE = 0x0b,            /* u32, FST_FSP_STATE_* bits */
	FST_FSP_TAG_CRED_SLOTS = 0x0c,       /* u8, credential slots, absent = 1 */
	FST_FSP_TAG_ACTIVE_SLOT = 0x0d,      /* u8, the slot in use, absent = 0 */
	FST_FSP_TAG_VERSIONS = 0x0e,         /* u8 lowest, u8 highest version it speaks */
} FstFspTag;

/* credential slots: slot s holds a key, a device certificate and a CA chain.
 * KEYGEN and SIGN_CHALLENGE take an optional trailing u8 slot, PUT_KEY the
 * slot in bits 24..31 of its key_type word; absent (or 0) is slot 0 */
#define FST_FSP_CRED_SLOTS_MAX 2u
#define FST_FSP_PUT_KEY_SLOT_SHIFT 24u
#define FST_FSP_PUT_KEY_TYPE_MASK 0x00ffffffu

#define FST_FSP_CAP_CSR 0x01u     /* builds a CSR for its own key */
#define FST_FSP_CAP_SIGN 0x02u    /* SIGN_CHALLENGE: proves possession of its key */
#define FST_FSP_CAP_PUT_KEY 0x04u /* PUT_KEY: takes a key made by the station */
#define FST_FSP_CAP_LOCK 0x08u    /* LOCK: credentials can be made read-only */
#define FST_FSP_CAP_PUBKEY 0x10u  /* KEYGEN form PUBKEY: exports the new key's public key */
#define FST_FSP_CAP_NAK 0x20u     /* answers a corrupt frame with a NAK (when the station asks) */
#define FST_FSP_CAP_DIGEST 0x40u  /* DIGEST: hashes an object as read from its storage */

/* DIGEST response after the status: u32 length, u8 sha256[32] */
#define FST_FSP_DIGEST_RESP_SIZE (1u + 4u + FST_FSP_SHA256_SIZE)

/* HELLO request: the optional u8 after max_payload, what the station
 * understands; absent = 0 */
#define FST_FSP_HELLO_FLAG_NAK 0x01u /* NAK frames: answer a corrupt frame at once */

/* NAK: the frame type a device sends, in a session whose HELLO carried
 * FST_FSP_HELLO_FLAG_NAK, when a frame fails to decode. seq is that of the
 * last request the device decoded (0 before any), the payload one u8, the
 * negated FST_FSP_DEC_ERR_* code. Never a request type, never in the replay
 * cache */
#define FST_FSP_NAK_TYPE 0xffu

/* KEYGEN forms: what the device leaves in object 0x10 for the new key */
#define FST_FSP_KEYGEN_FORM_CSR 0x00u    /* a PKCS#10 CSR signed by the key (the default) */
#define FST_FSP_KEYGEN_FORM_PUBKEY 0x01u /* the SubjectPublicKeyInfo, DER */

#define FST_FSP_STATE_LOCKED 0x01u /* LOCK was executed: no more changes */

/* SIGN_CHALLENGE: the station's nonce, and the message the device signs:
 * FST_FSP_POP_PREFIX (without its NUL) followed by the nonce, so that a
 * device never signs bytes a station chose freely */
#define FST_FSP_NONCE_SIZE 32u
#define FST_FSP_POP_PREFIX "FSP1 proof of possession\n"
#define FST_FSP_POP_PREFIX_LEN (sizeof(FST_FSP_POP_PREFIX) - 1u)
#define FST_FSP_POP_MESSAGE_LEN (FST_FSP_POP_PREFIX_LEN + FST_FSP_NONCE_SIZE)

/* PUT_KEY: the largest key (PKCS#8 DER) a device must accept */
#define FST_FSP_PUT_KEY_MAX 4096u
#define FST_FSP_PUT_KEY_HDR 12u /* key_type u32, offset u32, total u32 */

/* LOCK: the request must carry this u32, so that no stray frame locks a device */
#define FST_FSP_LOCK_MAGIC 0x4b434f4cu /* "LOCK" little-endian */

#define FST_FSP_STRING_MAX 64u
#define FST_FSP_MAX_OBJECTS 8u
#define FST_FSP_SHA256_SIZE 32u
#define FST_FSP_LIST_ENTRY_SIZE (1u + 1u + 4u + 4u + FST_FSP_SHA256_SIZE)

/**
 * FstFspPacket:
 *
 * A decoded packet. @payload points into the buffer it was decoded from (the
 * decoder's, until the next byte is pushed).
 */
typedef struct {
	uint8_t version;
	uint8_t flags;
	uint8_t type;
	uint16_t seq;
	uint16_t len;
	const uint8_t *payload;
} FstFspPacket;

/* CRC-32 (IEEE 802.3, reflected, init and final xor 0xffffffff) */
uint32_t fst_fsp_crc32(uint32_t crc, const uint8_t *buf, size_t len);

/* COBS; both return the output length, or 0 when @out is too small or the
 * input is malformed (decode); neither writes the 0x00 delimiter */
size_t fst_fsp_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap);
size_t fst_fsp_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap);

/* encodes @pkt (header + payload + CRC, COBS, delimiter) into @out; returns
 * the number of bytes to send, or 0 when @out is too small */
size_t fst_fsp_packet_encode(const FstFspPacket *pkt, uint8_t *out, size_t out_cap);

/* parses one raw (already COBS-decoded) packet; returns a FST_FSP_DEC_* code */
int fst_fsp_packet_parse(const uint8_t *raw, size_t len, size_t max_payload, FstFspPacket *pkt);

/**
 * FstFspDecoder:
 *
 * Incremental receiver: push bytes as they come, in any split. Uses only the
 * caller's buffer; a frame longer than the buffer is dropped whole and the
 * decoder resynchronises at the next 0x00.
 */
typedef struct {
	uint8_t *buf; /* caller's buffer, FST_FSP_ENCODED_MAX(max_payload) */
	size_t cap;
	size_t len;
	size_t max_payload; /* frames announcing more payload are rejected */
	bool discarding;    /* inside an oversize frame, waiting for 0x00 */
	/* counters, for diagnostics and tests */
	uint32_t n_frames;
	uint32_t n_bad_crc;
	uint32_t n_bad_cobs;
	uint32_t n_oversize;
	uint32_t n_truncated;
	uint32_t n_bad_version;
} FstFspDecoder;

enum {
	FST_FSP_DEC_NONE = 0,  /* need more bytes */
	FST_FSP_DEC_FRAME = 1, /* *pkt holds a valid packet */
	FST_FSP_DEC_ERR_CRC = -1,
	FST_FSP_DEC_ERR_COBS = -2,
	FST_FSP_DEC_ERR_OVERSIZE = -3,
	FST_FSP_DEC_ERR_TRUNCATED = -4, /* shorter than a header, or len disagrees */
	FST_FSP_DEC_ERR_VERSION = -5,
};

void fst_fsp_decoder_init(FstFspDecoder *dec, uint8_t *buf, size_t cap, size_t max_payload);
void fst_fsp_decoder_reset(FstFspDecoder *dec);
int fst_fsp_decoder_push(FstFspDecoder *dec, uint8_t byte, FstFspPacket *pkt);
const char *fst_fsp_decoder_result_to_string(int result);

/**
 * FstFspCursor:
 *
 * Bounds-checked reader/writer over a byte buffer. Errors are sticky: after an
 * out-of-bounds access every further access fails and @error stays true, so a
 * parser can read all fields and check once.
 */
typedef struct {
	uint8_t *wbuf;       /* writer only */
	const uint8_t *rbuf; /* reader only */
	size_t len;          /* reader: data length; writer: capacity */
	size_t pos;
	bool error;
} FstFspCursor;

void fst_fsp_reader_init(FstFspCursor *c, const uint8_t *buf, size_t len);
void fst_fsp_writer_init(FstFspCursor *c, uint8_t *buf, size_t cap);
size_t fst_fsp_cursor_remaining(const FstFspCursor *c);
uint8_t fst_fsp_read_u8(FstFspCursor *c);
uint16_t fst_fsp_read_u16(FstFspCursor *c);
uint32_t fst_fsp_read_u32(FstFspCursor *c);
/* returns a pointer into the buffer, or NULL (and sets error) if short */
const uint8_t *fst_fsp_read_bytes(FstFspCursor *c, size_t n);
void fst_fsp_write_u8(FstFspCursor *c, uint8_t v);
void fst_fsp_write_u16(FstFspCursor *c, uint16_t v);
void fst_fsp_write_u32(FstFspCursor *c, uint32_t v);
void fst_fsp_write_bytes(FstFspCursor *c, const uint8_t *data, size_t n);
/* reserves @n bytes to be filled by the caller; NULL if there is no room */
uint8_t *fst_fsp_write_reserve(FstFspCursor *c, size_t n);

/* TLV helpers: tag u8, length u16 LE, value */
void fst_fsp_tlv_put(FstFspCursor *c, uint8_t tag, const void *value, size_t len);
void fst_fsp_tlv_put_u8(FstFspCursor *c, uint8_t tag, uint8_t v);
void fst_fsp_tlv_put_u16(FstFspCursor *c, uint8_t tag, uint16_t v);
void fst_fsp_tlv_put_u32(FstFspCursor *c, uint8_t tag, uint32_t v);
/* returns true and the next TLV, or false at the end or on a truncated TLV
 * (then c->error is set) */
bool fst_fsp_tlv_next(FstFspCursor *c, uint8_t *tag, const uint8_t **value, uint16_t *len);

/* little-endian helpers for fixed fields */
uint16_t fst_fsp_get_u16(const uint8_t *p);
uint32_t fst_fsp_get_u32(const uint8_t *p);
void fst_fsp_put_u16(uint8_t *p, uint16_t v);
void fst_fsp_put_u32(uint8_t *p, uint32_t v);

const char *fst_fsp_status_to_string(uint8_t status);
const char *fst_fsp_command_to_string(uint8_t type);

#ifdef __cplusplus
}
#endif

#endif /* FST_FSP_WIRE_H */
