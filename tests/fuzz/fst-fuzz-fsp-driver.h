/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The input format of the FSP driver fuzzer (fst-fuzz-fsp-driver.c), shared
 * with the corpus generator (fst-fuzz-fsp-corpus.c) so that both run the same
 * API calls for the same bytes.
 *
 * An input is:
 *   byte 0: bits 0-1 the driver's retransmissions (0..3); bit 2 set: the end
 *     of the input is a disconnect, else every further read times out; bit 3
 *     set: the port says 115200 baud (wire time in the timeouts); bits 4-7
 *     the number of API calls - 1
 *   one byte per API call (FST_FUZZ_DRIVER_OP_* in bits 0-3, the slot in bit
 *     4, an argument 0..7 in bits 5-7, see fst_fuzz_driver_call())
 *   the device: records, one per read() of the station (FST_FUZZ_REC_*)
 * An answer record is wrapped in a valid frame addressed to the request the
 * station sent last (its command and sequence number), so that the fuzzer
 * gets past the CRC and the random first sequence number; raw records and
 * the modifier bits give it garbage, stale, corrupt and split frames.
 */
#pragma once

#include <string.h>

#include "fst-device.h"
#include "fst-error.h"
#include "fst-fsp-device.h"
#include "fst-secret.h"

enum {
	FST_FUZZ_DRIVER_OP_IDENTIFY = 0,
	FST_FUZZ_DRIVER_OP_CSR = 1,    /* arg: key type bit; 6 none, 7 two types */
	FST_FUZZ_DRIVER_OP_PUBKEY = 2, /* as CSR */
	FST_FUZZ_DRIVER_OP_WRITE = 3,  /* arg: kind 1 + arg % 3, size 300/1500/5000 by arg / 3 */
	FST_FUZZ_DRIVER_OP_READ = 4,   /* arg: kind 1 + arg % 3 */
	FST_FUZZ_DRIVER_OP_SIGN = 5,   /* arg 7: a nonce of the wrong size */
	FST_FUZZ_DRIVER_OP_PUT_KEY =
	    6, /* arg: P-256/384/521 by arg % 3, size 138/1500/5000 by arg / 3 */
	FST_FUZZ_DRIVER_OP_ACTIVATE = 7, /* the slot */
	FST_FUZZ_DRIVER_OP_LOCK = 8,
	FST_FUZZ_DRIVER_OP_LIST = 9,
	FST_FUZZ_DRIVER_OP_ERASE = 10,  /* arg: kind 1 + arg % 3 */
	FST_FUZZ_DRIVER_OP_DIGEST = 11, /* arg: kind 1 + arg % 3 */
	FST_FUZZ_DRIVER_N_OPS = 12,     /* op values above wrap around */
};

#define FST_FUZZ_DRIVER_CALL(op, slot, arg) ((guint8)((op) | ((slot) << 4) | ((arg) << 5)))
#define FST_FUZZ_DRIVER_HEADER(n_calls, retries, flags)                                            \
	((guint8)((((n_calls)-1) << 4) | (flags) | (retries)))
#define FST_FUZZ_DRIVER_END_DISCONNECT 0x04u
#define FST_FUZZ_DRIVER_BAUD 0x08u
#define FST_FUZZ_DRIVER_MAX_CALLS 16u

/* device records: the kind in bits 0-2 */
enum {
	/* status u8, length u16 LE, that many payload bytes (fewer when the
	 * input ends): the answer to the last request; kinds 5-7 too */
	FST_FUZZ_REC_ANSWER = 0,
	FST_FUZZ_REC_RAW = 1,         /* length u8, bytes sent as they are */
	FST_FUZZ_REC_TIMEOUT = 2,     /* the read times out */
	FST_FUZZ_REC_DISCONNECT = 3,  /* the read finds the port gone */
	FST_FUZZ_REC_WRITE_FAILS = 4, /* the read times out and the next write fails */
};
/* modifiers of an answer */
#define FST_FUZZ_REC_STALE_SEQ 0x08u  /* the sequence number of the request before */
#define FST_FUZZ_REC_WRONG_TYPE 0x10u /* answers another command */
#define FST_FUZZ_REC_CORRUPT 0x20u    /* one byte of the frame flipped */
#define FST_FUZZ_REC_DELIMITER 0x40u  /* a 0x00 in front, ending any partial frame */
#define FST_FUZZ_REC_BYTEWISE 0x80u   /* delivered one byte per read */

/* the largest answer payload a record asks for: beyond what the station's
 * decoder accepts, so that oversize frames are tried */
#define FST_FUZZ_REC_PAYLOAD_MAX (FST_FSP_MAX_PAYLOAD_LIMIT + 64u)

/* a P-256 key in PKCS#8 DER, made for this test only and worth nothing: what
 * PUT_KEY sends, so that the simulator of the corpus generator accepts it */
static const guint8 fst_fuzz_driver_p256_key[138] = {
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02,
    0x01, 0x01, 0x04, 0x20, 0x22, 0x66, 0x4b, 0xfe, 0x4e, 0x48, 0x5c, 0x00, 0xd3, 0xfb, 0xea, 0xab,
    0xf6, 0x5e, 0x5e, 0x12, 0xfb, 0x67, 0x75, 0x96, 0x8a, 0x2a, 0xd1, 0x36, 0x9d, 0xcc, 0xb2, 0x31,
    0xc4, 0xda, 0x38, 0x5f, 0xa1, 0x44, 0x03, 0x42, 0x00, 0x04, 0xd2, 0xda, 0x3e, 0xc5, 0x9f, 0x5c,
    0x27, 0xdb, 0x82, 0xeb, 0xae, 0x16, 0xfd, 0x98, 0x25, 0x91, 0x0f, 0xb2, 0x40, 0xb3, 0xe7, 0x96,
    0x74, 0xa3, 0x67, 0xf0, 0x22, 0xd9, 0x6a, 0x27, 0xf8, 0xa1, 0x83, 0x36, 0x12, 0x71, 0x7b, 0xff,
    0xdc, 0xc9, 0xee, 0xc8, 0x42, 0x7c, 0xe8, 0x48, 0x62, 0x4d, 0xb4, 0x94, 0x65, 0xbf, 0x3e, 0x1f,
    0x35, 0xfb, 0xf3, 0x22, 0x69, 0xb6, 0x1d, 0xfd, 0x83, 0x67};

static inline FstKeyType
fst_fuzz_driver_key_type(guint arg)
{
	if (arg == 6)
		return FST_KEY_TYPE_NONE;
	if (arg == 7)
		return FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_EC_P384;
	return (FstKeyType)(1u << arg);
}

/* deterministic object content, no valid certificate: the driver does not
 * parse what it stores */
static inline GBytes *
fst_fuzz_driver_object(guint arg)
{
	static const gsize sizes[] = {300, 1500, 5000};
	gsize n = sizes[arg / 3];
	guint8 *buf = g_malloc(n);
	for (gsize i = 0; i < n; i++)
		buf[i] = (guint8)(i * 31u + arg);
	return g_bytes_new_take(buf, n);
}

/* an error is in FST_ERROR and says something */
static inline void
fst_fuzz_driver_check_error(gboolean ok, const GError *error)
{
	if (ok) {
		g_assert_no_error(error);
		return;
	}
	g_assert_nonnull(error);
	g_assert_true(error->domain == FST_ERROR);
	g_assert_true(error->message != NULL && error->message[0] != '\0');
}

/* runs one API call; returns whether it succeeded, with @error set when not */
static inline gboolean
fst_fuzz_driver_call(FstDevice *device, guint8 call, GError **error)
{
	guint op = (call & 0x0fu) % FST_FUZZ_DRIVER_N_OPS;
	guint slot = (call >> 4) & 1u;
	guint arg = call >> 5;
	FstObjectKind kind = (FstObjectKind)(FST_OBJECT_DEVICE_CERT + arg % 3u);
	gboolean ok = FALSE;

	switch (op) {
	case FST_FUZZ_DRIVER_OP_IDENTIFY: {
		const FstDeviceInfo *info;
		ok = fst_device_identify(device, NULL, error);
		if (!ok)
			break;
		/* whatever was accepted obeys the limits */
		info = fst_device_get_info(device);
		g_assert_nonnull(info);
		g_assert_true(strlen(info->uid) >= 1 && strlen(info->uid) <= FST_FSP_STRING_MAX);
		g_assert_true(info->max_payload >= FST_FSP_MIN_PAYLOAD &&
		              info->max_payload <= FST_FSP_MAX_PAYLOAD_LIMIT);
		g_assert_true(info->cred_slots >= 1 && info->cred_slots <= FST_FSP_CRED_SLOTS_MAX);
		g_assert_true(info->active_slot < info->cred_slots);
		for (guint i = 0; i < FST_OBJECT_LAST; i++)
			g_assert_true(info->capacity[i] <= FST_FSP_DEVICE_OBJECT_MAX);
		break;
	}
	case FST_FUZZ_DRIVER_OP_CSR:
	case FST_FUZZ_DRIVER_OP_PUBKEY: {
		g_autoptr(GBytes) out = NULL;
		FstKeyType key_type = fst_fuzz_driver_key_type(arg);
		if (op == FST_FUZZ_DRIVER_OP_CSR)
			out = fst_device_generate_csr(device, slot, key_type, NULL, error);
		else
			out = fst_device_generate_public_key(device, slot, key_type, NULL, error);
		ok = out != NULL;
		if (ok)
			g_assert_true(g_bytes_get_size(out) >= 1 &&
			              g_bytes_get_size(out) <= FST_FSP_DEVICE_CSR_MAX);
		break;
	}
	case FST_FUZZ_DRIVER_OP_WRITE: {
		g_autoptr(GBytes) data = fst_fuzz_driver_object(arg);
		ok = fst_device_write_object(device, slot, kind, data, NULL, error);
		break;
	}
	case FST_FUZZ_DRIVER_OP_READ: {
		g_autoptr(GBytes) out = fst_device_read_object(device, slot, kind, NULL, error);
		ok = out != NULL;
		if (ok)
			g_assert_cmpuint(g_bytes_get_size(out), <=, FST_FSP_DEVICE_OBJECT_MAX);
		break;
	}
	case FST_FUZZ_DRIVER_OP_SIGN: {
		guint8 nonce_buf[FST_FSP_NONCE_SIZE];
		g_autoptr(GBytes) nonce = NULL;
		g_autoptr(GBytes) message = NULL;
		g_autoptr(GBytes) sig = NULL;
		memset(nonce_buf, 0x5c, sizeof(nonce_buf));
		nonce =
		    g_bytes_new(nonce_buf, arg == 7 ? sizeof(nonce_buf) - 1 : sizeof(nonce_buf));
		sig = fst_device_sign_challenge(device, slot, nonce, &message, NULL, error);
		ok = sig != NULL;
		if (ok) {
			g_assert_true(g_bytes_get_size(sig) >= 1 &&
			              g_bytes_get_size(sig) <= FST_FSP_DEVICE_SIGNATURE_MAX);
			g_assert_nonnull(message);
			g_assert_cmpuint(g_bytes_get_size(message), ==, FST_FSP_POP_MESSAGE_LEN);
		} else {
			g_assert_null(message);
		}
		break;
	}
	case FST_FUZZ_DRIVER_OP_PUT_KEY: {
		g_autoptr(FstSecret) key = NULL;
		if (arg / 3 == 0) {
			key = fst_secret_new(fst_fuzz_driver_p256_key,
			                     sizeof(fst_fuzz_driver_p256_key));
		} else {
			g_autoptr(GBytes) data = fst_fuzz_driver_object(arg);
			key = fst_secret_new(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
		}
		ok = fst_device_put_key(
		    device, slot, fst_fuzz_driver_key_type(arg % 3), key, NULL, error);
		break;
	}
	case FST_FUZZ_DRIVER_OP_ACTIVATE:
		ok = fst_device_activate_slot(device, slot, NULL, error);
		break;
	case FST_FUZZ_DRIVER_OP_LOCK:
		ok = fst_device_lock(device, NULL, error);
		break;
	case FST_FUZZ_DRIVER_OP_LIST: {
		g_autoptr(GArray) objs = fst_fsp_device_list(FST_FSP_DEVICE(device), NULL, error);
		ok = objs != NULL;
		if (ok)
			g_assert_cmpuint(objs->len, <=, FST_FSP_MAX_OBJECTS);
		break;
	}
	case FST_FUZZ_DRIVER_OP_DIGEST: {
		guint32 length = 0;
		g_autoptr(GBytes) digest =
		    fst_device_digest_object(device, slot, kind, &length, NULL, error);
		ok = digest != NULL;
		if (ok)
			g_assert_cmpuint(g_bytes_get_size(digest), ==, FST_FSP_SHA256_SIZE);
		break;
	}
	case FST_FUZZ_DRIVER_OP_ERASE:
	default:
		ok = fst_fsp_device_erase(FST_FSP_DEVICE(device), kind, NULL, error);
		break;
	}
	fst_fuzz_driver_check_error(ok, error != NULL ? *error : NULL);
	return ok;
}
