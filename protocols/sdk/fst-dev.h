/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleetstation device SDK: the device side of FSP v1 (protocols/fsp/README.md).
 *
 * Portable C99 for MCU firmware: no malloc, no OS calls, no globals. All state
 * is in one FstDevCtx of fixed size (see protocols/sdk/README.md for the RAM
 * budget); the platform is reached only through the FstDevHal callbacks.
 */
#ifndef FST_DEV_H
#define FST_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "fst-fsp-wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* largest payload this build handles; it sizes the three buffers of FstDevCtx.
 * A firmware can lower it at build time (>= FST_FSP_DEFAULT_PAYLOAD) */
#ifndef FST_DEV_MAX_PAYLOAD
#define FST_DEV_MAX_PAYLOAD 512u
#endif

#if FST_DEV_MAX_PAYLOAD < 256 || FST_DEV_MAX_PAYLOAD > 4096
#error "FST_DEV_MAX_PAYLOAD must be between 256 and 4096"
#endif

/* the RAM budget of one FstDevCtx, checked by a static assertion in fst-dev.c */
#define FST_DEV_CTX_BUDGET (3u * FST_DEV_MAX_PAYLOAD + 512u)

/**
 * FstDevObject:
 *
 * One storage object the device offers. @capacity is the most bytes it can
 * hold; @flags are FST_FSP_OBJ_FLAG_* (READ_ONLY for the CSR).
 */
typedef struct {
	uint8_t id;
	uint8_t flags;
	uint32_t capacity;
} FstDevObject;

/**
 * FstDevIdentity:
 *
 * What HELLO reports. Strings are NUL-terminated printable ASCII, at most
 * FST_FSP_STRING_MAX bytes; they must stay valid while the context is used.
 */
typedef struct {
	const char *uid;
	const char *model;
	const char *firmware;
	uint32_t key_types;   /* FstKeyType bits the device can generate */
	uint32_t validation;  /* FstValidation bits */
	uint32_t caps;        /* FST_FSP_CAP_* */
	uint8_t format;       /* 0 = PEM, 1 = DER */
	uint16_t max_payload; /* 0 = FST_DEV_MAX_PAYLOAD */
	FstDevObject objects[FST_FSP_MAX_OBJECTS];
	uint8_t n_objects;
	/* credential slots: 0 or 1 for one (objects 0x01/0x02); 2 for A/B, which
	 * needs objects 0x04/0x05 in @objects and the HAL's activate() and
	 * active_slot() */
	uint8_t cred_slots;
	/* the highest FSP major version this firmware speaks, 0 for
	 * FST_FSP_VERSION; a firmware of a newer version that still speaks
	 * version 1 announces it with the range 1..version_max (HELLO TLV
	 * VERSIONS), so that a version 1 station negotiates down */
	uint8_t version_max;
} FstDevIdentity;

/**
 * FstDevHal:
 *
 * The platform. Every storage callback returns an FstFspStatus (0 = OK) that
 * is sent to the station as is, so a HAL can say STORAGE_FULL or
 * STORAGE_FAILED precisely. @user is passed back to every callback.
 *
 * Staging is the device's guarantee that a half-written object never
 * replaces a good one: stage_begin() discards any old staging area,
 * stage_write() fills it, stage_digest() hashes what really is in it (read
 * back from storage, not from RAM) and stage_commit() swaps it in atomically.
 */
typedef struct {
	void *user;
	/* sends bytes to the station; returns 0 when all were queued */
	int (*uart_write)(void *user, const uint8_t *buf, size_t len);
	/* committed objects: length (0 and NOT_FOUND when absent) */
	int (*obj_length)(void *user, uint8_t id, uint32_t *len);
	int (*obj_read)(void *user, uint8_t id, uint32_t offset, uint8_t *buf, size_t len);
	int (*obj_digest)(void *user, uint8_t id, uint8_t sha256[FST_FSP_SHA256_SIZE]);
	int (*obj_erase)(void *user, uint8_t id);
	/* staging */
	int (*stage_begin)(void *user, uint8_t id);
	int (*stage_write)(void *user, uint8_t id, uint32_t offset, const uint8_t *buf, size_t len);
	int (*stage_digest)(void *user,
	                    uint8_t id,
	                    uint32_t len,
	                    uint8_t sha256[FST_FSP_SHA256_SIZE]);
	int (*stage_commit)(void *user, uint8_t id, uint32_t len);
	/* generates a key of @key_type (one FstKeyType bit) as the staged key
	 * of credential slot @slot (0 on a device with one slot), builds a DER
	 * CSR signed by it and stores it as object FST_FSP_OBJ_CSR; returns
	 * KEYGEN_FAILED or UNSUPPORTED on failure */
	int (*keygen)(void *user, uint8_t slot, uint32_t key_type, uint32_t *csr_len);
	/* optional, required with FST_FSP_CAP_PUBKEY: generates a key of
	 * @key_type as the staged key, like keygen(), but stores its DER
	 * SubjectPublicKeyInfo as object FST_FSP_OBJ_CSR instead of a CSR, for
	 * devices that cannot build CSRs (possession is then proven by
	 * SIGN_CHALLENGE) */
	int (*keygen_pubkey)(void *user, uint8_t slot, uint32_t key_type, uint32_t *spki_len);
	/* optional, required with FST_FSP_CAP_SIGN: signs @msg (always
	 * FST_FSP_POP_PREFIX + nonce) with the staged key of slot @slot if it
	 * has one, else its key, SHA-256 for every key type, ECDSA as DER or
	 * RSA PKCS#1 v1.5, and stores the signature as object
	 * FST_FSP_OBJ_SIGNATURE; NO_KEY when the slot has neither */
	int (*sign)(
	    void *user, uint8_t slot, const uint8_t *msg, size_t msg_len, uint32_t *sig_len);
	/* optional, required with FST_FSP_CAP_PUT_KEY: receives a station-made
	 * key (PKCS#8 DER) in contiguous chunks; on the last chunk (offset + len
	 * == total) it checks the key against @key_type, makes it the staged
	 * key of slot @slot and wipes its buffer; BAD_KEY when it does not parse
	 * or match */
	int (*put_key)(void *user,
	               uint8_t slot,
	               uint32_t key_type,
	               uint32_t offset,
	               uint32_t total,
	               const uint8_t *buf,
	               size_t len);
	/* optional, required with FST_FSP_CAP_LOCK: makes the credentials
	 * read-only for ever (persistently); is_locked() says whether they are */
	int (*lock)(void *user);
	int (*is_locked)(void *user);
	/* required with cred_slots 2: makes the TLS stack use slot @slot from
	 * now on, persistently (the SDK checked that the slot's device
	 * certificate is present); NOT_FOUND when the slot has no committed key.
	 * active_slot() returns the slot in use */
	int (*activate)(void *user, uint8_t slot);
	int (*active_slot)(void *user);
	/* optional, required with FST_FSP_CAP_DIGEST: re-reads committed
	 * object @id from the storage medium (not a RAM copy, not a hash kept
	 * since the commit) and hashes it; sets @len to the bytes read;
	 * NOT_FOUND when absent, STORAGE_FAILED when the medium fails */
	int (*obj_rehash)(void *user,
	                  uint8_t id,
	                  uint32_t *len,
	                  uint8_t sha256[FST_FSP_SHA256_SIZE]);
} FstDevHal;

/**
 * FstDevCtx:
 *
 * Opaque in spirit: allocate it (statically) and pass it around; the fields
 * are here only so its size is known at compile time.
 */
typedef struct {
	const FstDevHal *hal;
	const FstDevIdentity *identity;
	FstFspDecoder dec;
	uint16_t max_payload; /* negotiated: min(ours, station's) */
	/* staging state: contiguous writes only */
	uint8_t staged_id; /* 0 = nothing staged */
	uint32_t staged_len;
	/* PUT_KEY state: bytes of the key received so far, its type and size */
	uint32_t key_type; /* the whole key_type word, slot bits included */
	uint32_t key_len;
	uint32_t key_total;
	/* replay cache: the last response, sent again for a repeated request */
	uint16_t last_seq;
	uint8_t last_type;
	uint32_t last_crc; /* CRC of the last request payload */
	uint8_t have_last;
	size_t last_len;
	/* the station of this session understands NAK (HELLO flag) and the
	 * device offers it (FST_FSP_CAP_NAK); the seq of the last request
	 * decoded, for the NAK frame */
	uint8_t nak;
	uint16_t rx_seq;
	/* statistics */
	uint32_t n_commands;
	uint32_t n_replays;
	uint32_t n_naks;
	uint8_t rx_buf[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD)];
	uint8_t tx_buf[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD)];
	uint8_t work[FST_DEV_MAX_PAYLOAD];
} FstDevCtx;

/* returns 0, or -1 when @hal misses a callback or @identity is invalid */
int fst_dev_init(FstDevCtx *ctx, const FstDevHal *hal, const FstDevIdentity *identity);
/* feeds received bytes; complete requests are executed and answered through
 * hal->uart_write before this returns */
void fst_dev_rx(FstDevCtx *ctx, const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* FST_DEV_H */
