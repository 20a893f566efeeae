/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleetstation device SDK: executes FSP v1 requests on the device.
 *
 * Everything the station sends is untrusted: requests are parsed only through
 * the bounds-checked cursor of fst-fsp-wire.h, and every offset and length is
 * checked against the object's capacity before the HAL sees it.
 */
#include "fst-dev.h"

#include <string.h>

/* C99 has no _Static_assert; a negative array size fails the build instead */
typedef char fst_dev_ctx_fits_budget[(sizeof(FstDevCtx) <= FST_DEV_CTX_BUDGET) ? 1 : -1];

static int
fst_dev_string_ok(const char *s, size_t min_len)
{
	size_t n;
	if (s == NULL)
		return min_len == 0;
	for (n = 0; s[n] != '\0'; n++) {
		if (n >= FST_FSP_STRING_MAX)
			return 0;
		if (s[n] < 0x20 || s[n] > 0x7e)
			return 0;
	}
	return n >= min_len;
}

int
fst_dev_init(FstDevCtx *ctx, const FstDevHal *hal, const FstDevIdentity *identity)
{
	if (ctx == NULL || hal == NULL || identity == NULL)
		return -1;
	if (hal->uart_write == NULL || hal->obj_length == NULL || hal->obj_read == NULL ||
	    hal->obj_digest == NULL || hal->obj_erase == NULL || hal->stage_begin == NULL ||
	    hal->stage_write == NULL || hal->stage_digest == NULL || hal->stage_commit == NULL)
		return -1;
	if ((identity->caps & FST_FSP_CAP_CSR) != 0 && hal->keygen == NULL)
		return -1;
	if ((identity->caps & FST_FSP_CAP_SIGN) != 0 && hal->sign == NULL)
		return -1;
	if ((identity->caps & FST_FSP_CAP_PUBKEY) != 0 && hal->keygen_pubkey == NULL)
		return -1;
	if ((identity->caps & FST_FSP_CAP_PUT_KEY) != 0 && hal->put_key == NULL)
		return -1;
	if ((identity->caps & FST_FSP_CAP_DIGEST) != 0 && hal->obj_rehash == NULL)
		return -1;
	if (identity->version_max != 0 && identity->version_max < FST_FSP_VERSION)
		return -1;
	if ((identity->caps & FST_FSP_CAP_LOCK) != 0 &&
	    (hal->lock == NULL || hal->is_locked == NULL))
		return -1;
	if (identity->cred_slots > FST_FSP_CRED_SLOTS_MAX)
		return -1;
	if (identity->cred_slots == 2 && (hal->activate == NULL || hal->active_slot == NULL))
		return -1;
	if (!fst_dev_string_ok(identity->uid, 1) || !fst_dev_string_ok(identity->model, 0) ||
	    !fst_dev_string_ok(identity->firmware, 0))
		return -1;
	if (identity->n_objects > FST_FSP_MAX_OBJECTS)
		return -1;
	if (identity->max_payload != 0 && (identity->max_payload < FST_FSP_DEFAULT_PAYLOAD ||
	                                   identity->max_payload > FST_DEV_MAX_PAYLOAD))
		return -1;
	for (uint8_t i = 0; i < identity->n_objects; i++) {
		if (identity->objects[i].id == 0)
			return -1;
		/* slot B's objects exist only on a device with two slots */
		if (identity->cred_slots < 2 &&
		    (identity->objects[i].id == FST_FSP_OBJ_DEVICE_CERT_B ||
		     identity->objects[i].id == FST_FSP_OBJ_CA_CHAIN_B))
			return -1;
		for (uint8_t j = 0; j < i; j++) {
			if (identity->objects[j].id == identity->objects[i].id)
				return -1;
		}
	}
	memset(ctx, 0, sizeof(*ctx));
	ctx->hal = hal;
	ctx->identity = identity;
	ctx->max_payload = FST_FSP_DEFAULT_PAYLOAD;
	fst_fsp_decoder_init(&ctx->dec, ctx->rx_buf, sizeof(ctx->rx_buf), FST_DEV_MAX_PAYLOAD);
	return 0;
}

static uint16_t
fst_dev_own_max_payload(const FstDevCtx *ctx)
{
	return ctx->identity->max_payload != 0 ? ctx->identity->max_payload
	                                       : (uint16_t)FST_DEV_MAX_PAYLOAD;
}

static const FstDevObject *
fst_dev_find_object(const FstDevCtx *ctx, uint8_t id)
{
	for (uint8_t i = 0; i < ctx->identity->n_objects; i++) {
		if (ctx->identity->objects[i].id == id)
			return &ctx->identity->objects[i];
	}
	return NULL;
}

static uint8_t
fst_dev_slots(const FstDevCtx *ctx)
{
	return ctx->identity->cred_slots > 1 ? ctx->identity->cred_slots : 1u;
}

/* the device certificate object of credential slot @slot */
static uint8_t
fst_dev_slot_cert(uint8_t slot)
{
	return slot == 0 ? (uint8_t)FST_FSP_OBJ_DEVICE_CERT : (uint8_t)FST_FSP_OBJ_DEVICE_CERT_B;
}

/* the optional trailing slot byte of KEYGEN and SIGN_CHALLENGE: absent is
 * slot 0; returns 0 and sets *slot, or the status to answer */
static uint8_t
fst_dev_read_slot(const FstDevCtx *ctx, FstFspCursor *req, uint8_t *slot)
{
	*slot = 0;
	if (!req->error && fst_fsp_cursor_remaining(req) > 0)
		*slot = fst_fsp_read_u8(req);
	if (req->error)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	if (*slot >= fst_dev_slots(ctx))
		return FST_FSP_STATUS_UNSUPPORTED;
	return FST_FSP_STATUS_OK;
}

static int
fst_dev_locked(const FstDevCtx *ctx)
{
	if ((ctx->identity->caps & FST_FSP_CAP_LOCK) == 0)
		return 0;
	return ctx->hal->is_locked(ctx->hal->user) != 0;
}

/* each handler reads its request from @req and writes the response payload
 * after the status byte into @resp; it returns the status */

static uint8_t
fst_dev_cmd_hello(FstDevCtx *ctx, FstFspCursor *req, FstFspCursor *resp)
{
	const FstDevIdentity *id = ctx->identity;
	uint8_t version = fst_fsp_read_u8(req);
	uint16_t station_max = fst_fsp_read_u16(req);
	uint16_t own_max = fst_dev_own_max_payload(ctx);
	uint8_t station_flags = 0;

	if (req->error || station_max < FST_FSP_MIN_PAYLOAD)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	if (version < FST_FSP_VERSION)
		return FST_FSP_STATUS_BAD_VERSION;
	/* the station's flags are optional: stations before document 1.4
	 * send none and get no NAK frames */
	if (fst_fsp_cursor_remaining(req) > 0)
		station_flags = fst_fsp_read_u8(req);
	ctx->nak =
	    (station_flags & FST_FSP_HELLO_FLAG_NAK) != 0 && (id->caps & FST_FSP_CAP_NAK) != 0;

	/* a new session: forget half-written objects and keys */
	ctx->staged_id = 0;
	ctx->staged_len = 0;
	ctx->key_len = 0;
	ctx->key_total = 0;
	ctx->max_payload = station_max < own_max ? station_max : own_max;
	resp->len = ctx->max_payload;

	/* a newer firmware announces its own version and the range it speaks;
	 * this session then runs version 1, which the station asked for */
	if (id->version_max > FST_FSP_VERSION) {
		uint8_t range[2] = {FST_FSP_VERSION, id->version_max};
		fst_fsp_tlv_put_u8(resp, FST_FSP_TAG_PROTOCOL_VERSION, id->version_max);
		fst_fsp_tlv_put(resp, FST_FSP_TAG_VERSIONS, range, sizeof(range));
	} else {
		fst_fsp_tlv_put_u8(resp, FST_FSP_TAG_PROTOCOL_VERSION, FST_FSP_VERSION);
	}
	fst_fsp_tlv_put(resp, FST_FSP_TAG_UID, id->uid, strlen(id->uid));
	if (id->model != NULL)
		fst_fsp_tlv_put(resp, FST_FSP_TAG_MODEL, id->model, strlen(id->model));
	if (id->firmware != NULL)
		fst_fsp_tlv_put(resp, FST_FSP_TAG_FIRMWARE, id->firmware, strlen(id->firmware));
	fst_fsp_tlv_put_u32(resp, FST_FSP_TAG_KEY_TYPES, id->key_types);
	fst_fsp_tlv_put_u32(resp, FST_FSP_TAG_VALIDATION, id->validation);
	fst_fsp_tlv_put_u32(resp, FST_FSP_TAG_CAPS, id->caps);
	fst_fsp_tlv_put_u8(resp, FST_FSP_TAG_FORMAT, id->format);
	fst_fsp_tlv_put_u16(resp, FST_FSP_TAG_MAX_PAYLOAD, own_max);
	fst_fsp_tlv_put_u32(
	    resp, FST_FSP_TAG_STATE, fst_dev_locked(ctx) ? FST_FSP_STATE_LOCKED : 0u);
	/* a device with one slot says nothing: its answer stays that of FSP 1.2 */
	if (fst_dev_slots(ctx) > 1) {
		int active = ctx->hal->active_slot(ctx->hal->user);
		fst_fsp_tlv_put_u8(resp, FST_FSP_TAG_CRED_SLOTS, fst_dev_slots(ctx));
		fst_fsp_tlv_put_u8(resp,
		                   FST_FSP_TAG_ACTIVE_SLOT,
		                   active > 0 && active < fst_dev_slots(ctx) ? (uint8_t)active
		                                                             : 0u);
	}
	for (uint8_t i = 0; i < id->n_objects; i++) {
		uint8_t v[10];
		uint32_t len = 0;
		uint8_t flags = id->objects[i].flags & FST_FSP_OBJ_FLAG_READ_ONLY;
		if (ctx->hal->obj_length(ctx->hal->user, id->objects[i].id, &len) ==
		    FST_FSP_STATUS_OK)
			flags |= FST_FSP_OBJ_FLAG_PRESENT;
		else
			len = 0;
		v[0] = id->objects[i].id;
		v[1] = flags;
		fst_fsp_put_u32(v + 2, id->objects[i].capacity);
		fst_fsp_put_u32(v + 6, len);
		fst_fsp_tlv_put(resp, FST_FSP_TAG_OBJECT, v, sizeof(v));
	}
	return resp->error ? FST_FSP_STATUS_INTERNAL : FST_FSP_STATUS_OK;
}

static uint8_t
fst_dev_cmd_keygen(FstDevCtx *ctx, FstFspCursor *req, FstFspCursor *resp)
{
	uint32_t key_type = fst_fsp_read_u32(req);
	uint32_t form = FST_FSP_KEYGEN_FORM_CSR;
	uint32_t need;
	uint32_t csr_len = 0;
	uint8_t slot = 0;
	uint8_t status;
	int rc;

	/* the form byte is optional: FSP 1.0 stations send none and want a CSR;
	 * the slot byte after it too (FSP 1.3, absent = slot 0) */
	if (!req->error && fst_fsp_cursor_remaining(req) > 0)
		form = fst_fsp_read_u8(req);
	if (req->error || key_type == 0 || (key_type & (key_type - 1)) != 0 ||
	    form > FST_FSP_KEYGEN_FORM_PUBKEY)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	status = fst_dev_read_slot(ctx, req, &slot);
	if (status != FST_FSP_STATUS_OK)
		return status;
	need = form == FST_FSP_KEYGEN_FORM_CSR ? FST_FSP_CAP_CSR : FST_FSP_CAP_PUBKEY;
	if ((ctx->identity->caps & need) == 0 || (ctx->identity->key_types & key_type) == 0)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (fst_dev_locked(ctx))
		return FST_FSP_STATUS_LOCKED;
	if (form == FST_FSP_KEYGEN_FORM_PUBKEY)
		rc = ctx->hal->keygen_pubkey(ctx->hal->user, slot, key_type, &csr_len);
	else
		rc = ctx->hal->keygen(ctx->hal->user, slot, key_type, &csr_len);
	if (rc != FST_FSP_STATUS_OK)
		return (uint8_t)rc;
	fst_fsp_write_u32(resp, csr_len);
	return FST_FSP_STATUS_OK;
}

static uint8_t
fst_dev_cmd_write(FstDevCtx *ctx, FstFspCursor *req)
{
	uint8_t id = fst_fsp_read_u8(req);
	uint32_t offset = fst_fsp_read_u32(req);
	size_t n = fst_fsp_cursor_remaining(req);
	const uint8_t *data = fst_fsp_read_bytes(req, n);
	const FstDevObject *obj;
	int rc;

	if (req->error)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	obj = fst_dev_find_object(ctx, id);
	if (obj == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	if (obj->flags & FST_FSP_OBJ_FLAG_READ_ONLY)
		return FST_FSP_STATUS_READ_ONLY;
	if (fst_dev_locked(ctx))
		return FST_FSP_STATUS_LOCKED;
	if (offset == 0) {
		ctx->staged_id = 0;
		rc = ctx->hal->stage_begin(ctx->hal->user, id);
		if (rc != FST_FSP_STATUS_OK)
			return (uint8_t)rc;
		ctx->staged_id = id;
		ctx->staged_len = 0;
	} else if (ctx->staged_id != id || offset != ctx->staged_len) {
		return FST_FSP_STATUS_BAD_OFFSET;
	}
	if (n > obj->capacity || offset > obj->capacity - n) {
		ctx->staged_id = 0;
		return FST_FSP_STATUS_STORAGE_FULL;
	}
	if (n == 0)
		return FST_FSP_STATUS_OK;
	rc = ctx->hal->stage_write(ctx->hal->user, id, offset, data, n);
	if (rc != FST_FSP_STATUS_OK) {
		ctx->staged_id = 0;
		return (uint8_t)rc;
	}
	ctx->staged_len += (uint32_t)n;
	return FST_FSP_STATUS_OK;
}

static uint8_t
fst_dev_cmd_commit(FstDevCtx *ctx, FstFspCursor *req)
{
	uint8_t id = fst_fsp_read_u8(req);
	uint32_t total = fst_fsp_read_u32(req);
	const uint8_t *want = fst_fsp_read_bytes(req, FST_FSP_SHA256_SIZE);
	uint8_t have[FST_FSP_SHA256_SIZE];
	uint8_t diff = 0;
	const FstDevObject *obj;
	int rc;

	if (req->error)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	obj = fst_dev_find_object(ctx, id);
	if (obj == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	if (obj->flags & FST_FSP_OBJ_FLAG_READ_ONLY)
		return FST_FSP_STATUS_READ_ONLY;
	if (fst_dev_locked(ctx))
		return FST_FSP_STATUS_LOCKED;
	if (total > obj->capacity)
		return FST_FSP_STATUS_STORAGE_FULL;
	if (ctx->staged_id != id || ctx->staged_len != total)
		return FST_FSP_STATUS_BAD_ARGUMENTS;

	/* whatever happens now, the staging area is used up */
	ctx->staged_id = 0;
	rc = ctx->hal->stage_digest(ctx->hal->user, id, total, have);
	if (rc != FST_FSP_STATUS_OK)
		return (uint8_t)rc;
	for (size_t i = 0; i < sizeof(have); i++)
		diff |= (uint8_t)(have[i] ^ want[i]);
	if (diff != 0)
		return FST_FSP_STATUS_BAD_HASH;
	return (uint8_t)ctx->hal->stage_commit(ctx->hal->user, id, total);
}

static uint8_t
fst_dev_cmd_read(FstDevCtx *ctx, FstFspCursor *req, FstFspCursor *resp)
{
	uint8_t id = fst_fsp_read_u8(req);
	uint32_t offset = fst_fsp_read_u32(req);
	uint16_t max_len = fst_fsp_read_u16(req);
	uint32_t total = 0;
	size_t n;
	uint8_t *dst;
	int rc;

	if (req->error)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	if (fst_dev_find_object(ctx, id) == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	rc = ctx->hal->obj_length(ctx->hal->user, id, &total);
	if (rc != FST_FSP_STATUS_OK)
		return (uint8_t)rc;
	if (offset > total)
		return FST_FSP_STATUS_BAD_OFFSET;
	fst_fsp_write_u32(resp, total);
	n = total - offset;
	if (n > max_len)
		n = max_len;
	if (n > fst_fsp_cursor_remaining(resp))
		n = fst_fsp_cursor_remaining(resp);
	dst = fst_fsp_write_reserve(resp, n);
	if (dst == NULL)
		return FST_FSP_STATUS_INTERNAL;
	if (n == 0)
		return FST_FSP_STATUS_OK;
	return (uint8_t)ctx->hal->obj_read(ctx->hal->user, id, offset, dst, n);
}

static uint8_t
fst_dev_cmd_list(FstDevCtx *ctx, FstFspCursor *resp)
{
	const FstDevIdentity *ident = ctx->identity;

	fst_fsp_write_u8(resp, ident->n_objects);
	for (uint8_t i = 0; i < ident->n_objects; i++) {
		uint8_t id = ident->objects[i].id;
		uint8_t flags = ident->objects[i].flags & FST_FSP_OBJ_FLAG_READ_ONLY;
		uint32_t len = 0;
		uint8_t *sha;

		if (ctx->hal->obj_length(ctx->hal->user, id, &len) == FST_FSP_STATUS_OK)
			flags |= FST_FSP_OBJ_FLAG_PRESENT;
		else
			len = 0;
		fst_fsp_write_u8(resp, id);
		fst_fsp_write_u8(resp, flags);
		fst_fsp_write_u32(resp, len);
		fst_fsp_write_u32(resp, ident->objects[i].capacity);
		sha = fst_fsp_write_reserve(resp, FST_FSP_SHA256_SIZE);
		if (sha == NULL)
			return FST_FSP_STATUS_INTERNAL;
		memset(sha, 0, FST_FSP_SHA256_SIZE);
		if ((flags & FST_FSP_OBJ_FLAG_PRESENT) &&
		    ctx->hal->obj_digest(ctx->hal->user, id, sha) != FST_FSP_STATUS_OK)
			return FST_FSP_STATUS_STORAGE_FAILED;
	}
	return resp->error ? FST_FSP_STATUS_INTERNAL : FST_FSP_STATUS_OK;
}

/* DIGEST: the object as the storage medium holds it now, hashed by the
 * device, so that the station verifies a write without reading it back */
static uint8_t
fst_dev_cmd_digest(FstDevCtx *ctx, FstFspCursor *req, FstFspCursor *resp)
{
	uint8_t id = fst_fsp_read_u8(req);
	uint32_t len = 0;
	uint8_t *len_field;
	uint8_t *sha;
	int rc;

	if ((ctx->identity->caps & FST_FSP_CAP_DIGEST) == 0)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (req->error)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	if (fst_dev_find_object(ctx, id) == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	len_field = fst_fsp_write_reserve(resp, 4);
	sha = fst_fsp_write_reserve(resp, FST_FSP_SHA256_SIZE);
	if (len_field == NULL || sha == NULL)
		return FST_FSP_STATUS_INTERNAL;
	rc = ctx->hal->obj_rehash(ctx->hal->user, id, &len, sha);
	if (rc != FST_FSP_STATUS_OK)
		return (uint8_t)rc;
	fst_fsp_put_u32(len_field, len);
	return FST_FSP_STATUS_OK;
}

static uint8_t
fst_dev_cmd_erase(FstDevCtx *ctx, FstFspCursor *req)
{
	uint8_t id = fst_fsp_read_u8(req);
	const FstDevObject *obj;

	if (req->error)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	obj = fst_dev_find_object(ctx, id);
	if (obj == NULL)
		return FST_FSP_STATUS_NOT_FOUND;
	if (obj->flags & FST_FSP_OBJ_FLAG_READ_ONLY)
		return FST_FSP_STATUS_READ_ONLY;
	if (fst_dev_locked(ctx))
		return FST_FSP_STATUS_LOCKED;
	if (ctx->staged_id == id)
		ctx->staged_id = 0;
	return (uint8_t)ctx->hal->obj_erase(ctx->hal->user, id);
}

static uint8_t
fst_dev_cmd_sign_challenge(FstDevCtx *ctx, FstFspCursor *req, FstFspCursor *resp)
{
	const uint8_t *nonce = fst_fsp_read_bytes(req, FST_FSP_NONCE_SIZE);
	uint8_t msg[FST_FSP_POP_MESSAGE_LEN];
	uint32_t sig_len = 0;
	uint8_t slot = 0;
	uint8_t status;
	int rc;

	if ((ctx->identity->caps & FST_FSP_CAP_SIGN) == 0)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (req->error)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	status = fst_dev_read_slot(ctx, req, &slot);
	if (status != FST_FSP_STATUS_OK)
		return status;
	/* the device signs its own prefix and the nonce, never free bytes */
	memcpy(msg, FST_FSP_POP_PREFIX, FST_FSP_POP_PREFIX_LEN);
	memcpy(msg + FST_FSP_POP_PREFIX_LEN, nonce, FST_FSP_NONCE_SIZE);
	rc = ctx->hal->sign(ctx->hal->user, slot, msg, sizeof(msg), &sig_len);
	if (rc != FST_FSP_STATUS_OK)
		return (uint8_t)rc;
	fst_fsp_write_u32(resp, sig_len);
	return FST_FSP_STATUS_OK;
}

static uint8_t
fst_dev_cmd_put_key(FstDevCtx *ctx, FstFspCursor *req)
{
	uint32_t word = fst_fsp_read_u32(req);
	uint32_t offset = fst_fsp_read_u32(req);
	uint32_t total = fst_fsp_read_u32(req);
	size_t n = fst_fsp_cursor_remaining(req);
	const uint8_t *data = fst_fsp_read_bytes(req, n);
	/* the key data runs to the end of the payload: the slot rides in the
	 * high byte of key_type, which no key type uses */
	uint32_t key_type = word & FST_FSP_PUT_KEY_TYPE_MASK;
	uint32_t slot = word >> FST_FSP_PUT_KEY_SLOT_SHIFT;
	int rc;

	if ((ctx->identity->caps & FST_FSP_CAP_PUT_KEY) == 0)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (!req->error && slot >= fst_dev_slots(ctx))
		return FST_FSP_STATUS_UNSUPPORTED;
	if (req->error || key_type == 0 || (key_type & (key_type - 1)) != 0 || total == 0 || n == 0)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	if ((ctx->identity->key_types & key_type) == 0)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (fst_dev_locked(ctx))
		return FST_FSP_STATUS_LOCKED;
	if (total > FST_FSP_PUT_KEY_MAX)
		return FST_FSP_STATUS_STORAGE_FULL;
	if (offset == 0) {
		ctx->key_type = word;
		ctx->key_total = total;
		ctx->key_len = 0;
	} else if (ctx->key_total == 0 || offset != ctx->key_len || word != ctx->key_type ||
	           total != ctx->key_total) {
		return FST_FSP_STATUS_BAD_OFFSET;
	}
	if (n > total - offset) {
		ctx->key_total = 0;
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	}
	rc = ctx->hal->put_key(ctx->hal->user, (uint8_t)slot, key_type, offset, total, data, n);
	if (rc != FST_FSP_STATUS_OK) {
		ctx->key_total = 0;
		return (uint8_t)rc;
	}
	ctx->key_len += (uint32_t)n;
	if (ctx->key_len == total)
		ctx->key_total = 0;
	return FST_FSP_STATUS_OK;
}

static uint8_t
fst_dev_cmd_lock(FstDevCtx *ctx, FstFspCursor *req)
{
	uint32_t magic = fst_fsp_read_u32(req);

	if ((ctx->identity->caps & FST_FSP_CAP_LOCK) == 0)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (req->error || magic != FST_FSP_LOCK_MAGIC)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	/* locking twice is fine: the answer to a lost response stays OK */
	if (fst_dev_locked(ctx))
		return FST_FSP_STATUS_OK;
	ctx->staged_id = 0;
	return (uint8_t)ctx->hal->lock(ctx->hal->user);
}

static uint8_t
fst_dev_cmd_activate(FstDevCtx *ctx, FstFspCursor *req)
{
	uint8_t slot = fst_fsp_read_u8(req);
	uint32_t len = 0;

	if (fst_dev_slots(ctx) < 2)
		return FST_FSP_STATUS_UNSUPPORTED;
	if (req->error)
		return FST_FSP_STATUS_BAD_ARGUMENTS;
	if (slot >= fst_dev_slots(ctx))
		return FST_FSP_STATUS_UNSUPPORTED;
	if (fst_dev_locked(ctx))
		return FST_FSP_STATUS_LOCKED;
	/* never switch the TLS stack to a slot without a certificate; the HAL
	 * checks the key */
	if (ctx->hal->obj_length(ctx->hal->user, fst_dev_slot_cert(slot), &len) !=
	    FST_FSP_STATUS_OK)
		return FST_FSP_STATUS_NOT_FOUND;
	return (uint8_t)ctx->hal->activate(ctx->hal->user, slot);
}

static void
fst_dev_send(FstDevCtx *ctx)
{
	if (ctx->last_len > 0)
		(void)ctx->hal->uart_write(ctx->hal->user, ctx->tx_buf, ctx->last_len);
}

static void
fst_dev_handle(FstDevCtx *ctx, const FstFspPacket *pkt)
{
	FstFspCursor req;
	FstFspCursor resp;
	FstFspPacket out;
	uint32_t crc;
	uint8_t status;

	/* responses are never requests: ignore our own echo or a confused peer */
	if (pkt->type & FST_FSP_RESPONSE_BIT)
		return;

	/* a retransmission of the last request: answer from the cache, do not
	 * run KEYGEN/COMMIT twice; HELLO always runs, it starts a session */
	crc = fst_fsp_crc32(0, pkt->payload, pkt->len);
	if (ctx->have_last && pkt->type != FST_FSP_CMD_HELLO && pkt->seq == ctx->last_seq &&
	    pkt->type == ctx->last_type && crc == ctx->last_crc) {
		ctx->n_replays++;
		fst_dev_send(ctx);
		return;
	}

	ctx->n_commands++;
	fst_fsp_reader_init(&req, pkt->payload, pkt->len);
	fst_fsp_writer_init(&resp, ctx->work, ctx->max_payload);
	fst_fsp_write_u8(&resp, FST_FSP_STATUS_OK);
	switch (pkt->type) {
	case FST_FSP_CMD_HELLO:
		status = fst_dev_cmd_hello(ctx, &req, &resp);
		break;
	case FST_FSP_CMD_KEYGEN:
		status = fst_dev_cmd_keygen(ctx, &req, &resp);
		break;
	case FST_FSP_CMD_WRITE:
		status = fst_dev_cmd_write(ctx, &req);
		break;
	case FST_FSP_CMD_COMMIT:
		status = fst_dev_cmd_commit(ctx, &req);
		break;
	case FST_FSP_CMD_READ:
		status = fst_dev_cmd_read(ctx, &req, &resp);
		break;
	case FST_FSP_CMD_LIST:
		status = fst_dev_cmd_list(ctx, &resp);
		break;
	case FST_FSP_CMD_ERASE:
		status = fst_dev_cmd_erase(ctx, &req);
		break;
	case FST_FSP_CMD_SIGN_CHALLENGE:
		status = fst_dev_cmd_sign_challenge(ctx, &req, &resp);
		break;
	case FST_FSP_CMD_PUT_KEY:
		status = fst_dev_cmd_put_key(ctx, &req);
		break;
	case FST_FSP_CMD_LOCK:
		status = fst_dev_cmd_lock(ctx, &req);
		break;
	case FST_FSP_CMD_ACTIVATE:
		status = fst_dev_cmd_activate(ctx, &req);
		break;
	case FST_FSP_CMD_DIGEST:
		status = fst_dev_cmd_digest(ctx, &req, &resp);
		break;
	default:
		status = FST_FSP_STATUS_UNKNOWN_COMMAND;
		break;
	}

	/* an error response carries the status byte only */
	ctx->work[0] = status;
	out.version = FST_FSP_VERSION;
	out.flags = 0;
	out.type = (uint8_t)(pkt->type | FST_FSP_RESPONSE_BIT);
	out.seq = pkt->seq;
	out.len = status == FST_FSP_STATUS_OK ? (uint16_t)resp.pos : 1u;
	out.payload = ctx->work;
	ctx->last_len = fst_fsp_packet_encode(&out, ctx->tx_buf, sizeof(ctx->tx_buf));
	ctx->last_seq = pkt->seq;
	ctx->last_type = pkt->type;
	ctx->last_crc = crc;
	ctx->have_last = ctx->last_len > 0;
	fst_dev_send(ctx);
}

/* the receive buffer held a piece of a private key: wipe it, in a way the
 * compiler may not drop */
static void
fst_dev_wipe(uint8_t *buf, size_t len)
{
	volatile uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = 0;
}

/* answers a frame that failed to decode with a NAK, so that the station
 * sends its request again at once instead of waiting for its timeout; the
 * replay cache (tx_buf) is left as it is */
static void
fst_dev_send_nak(FstDevCtx *ctx, int result)
{
	uint8_t reason = (uint8_t)(-result);
	uint8_t wire[FST_FSP_ENCODED_MAX(1)];
	FstFspPacket out = {
	    .version = FST_FSP_VERSION,
	    .type = FST_FSP_NAK_TYPE,
	    .seq = ctx->rx_seq,
	    .len = 1,
	    .payload = &reason,
	};
	size_t n = fst_fsp_packet_encode(&out, wire, sizeof(wire));

	if (n == 0)
		return;
	ctx->n_naks++;
	(void)ctx->hal->uart_write(ctx->hal->user, wire, n);
}

void
fst_dev_rx(FstDevCtx *ctx, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		FstFspPacket pkt;
		int rc = fst_fsp_decoder_push(&ctx->dec, buf[i], &pkt);
		if (rc == FST_FSP_DEC_FRAME) {
			uint8_t type = pkt.type;
			if ((type & FST_FSP_RESPONSE_BIT) == 0)
				ctx->rx_seq = pkt.seq;
			fst_dev_handle(ctx, &pkt);
			if (type == FST_FSP_CMD_PUT_KEY)
				fst_dev_wipe(ctx->rx_buf, sizeof(ctx->rx_buf));
		} else if (rc < 0 && ctx->nak) {
			fst_dev_send_nak(ctx, rc);
		}
	}
}
