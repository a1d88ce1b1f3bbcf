/* maps.c: a hash map from byte strings to 64-bit integers, and a growable int array.
 *
 * The map (BytesMap, see fastbpe.h) counts pieces while scanning a corpus and holds the token
 * ranks of an encoder. Layout, as in CPython's compact dict:
 *
 *   slots:    [0, 3, 0, 1, 0, 0, 2, 0]   power-of-two table; 0 = empty, k = entries[k - 1]
 *   entries:  [{"the", 12}, {" cat", 3}, {" sat", 1}]   dense, insertion order
 *   keys:     "the cat sat"   every key's bytes, back to back (one arena, not one malloc per key)
 *
 * Lookup: hash the key, start at slot hash & (n_slots - 1), walk forward (linear probing) until
 * the key or an empty slot. The table doubles when half full, which keeps probe runs short.
 */
#include "fastbpe.h"

#include <stdlib.h>
#include <string.h>

/* A small multiply-xorshift hash: 8 bytes at a time, then a final mix so that the low bits
 * (which pick the slot) depend on every input byte. Not cryptographic: collisions only cost
 * speed here, never correctness (keys are always compared byte by byte). */
uint32_t fb_hash(const unsigned char *key, size_t len) {
    const uint64_t k = 0x9E3779B97F4A7C15ull; /* 2^64 / golden ratio */
    uint64_t h = len * k;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8); /* subtle: memcpy, not a cast, since the key may be unaligned */
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    for (size_t j = 0; i + j < len; j++) tail |= (uint64_t)key[i + j] << (8 * j);
    h = (h ^ tail) * k;
    h ^= h >> 32;
    h *= k;
    h ^= h >> 29;
    return (uint32_t)h;
}

int bm_init(BytesMap *m, size_t expected_entries) {
    memset(m, 0, sizeof *m);
    size_t n_slots = 64;
    while (n_slots < 2 * expected_entries) n_slots *= 2;
    m->slots = calloc(n_slots, sizeof *m->slots);
    if (!m->slots) return -1;
    m->n_slots = n_slots;
    return 0;
}

void bm_free(BytesMap *m) {
    free(m->slots);
    free(m->entries);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

/* The slot that holds `key`, or the empty slot where it would go. */
static size_t find_slot(const BytesMap *m, const unsigned char *key, size_t len, uint32_t hash) {
    size_t mask = m->n_slots - 1, i = hash & mask;
    for (;;) {
        uint32_t s = m->slots[i];
        if (s == 0) return i;
        const BMEntry *e = &m->entries[s - 1];
        if (e->hash == hash && e->len == len && memcmp(m->keys + e->off, key, len) == 0) return i;
        i = (i + 1) & mask;
    }
}

BMEntry *bm_find(const BytesMap *m, const unsigned char *key, size_t len) {
    uint32_t s = m->slots[find_slot(m, key, len, fb_hash(key, len))];
    return s ? &m->entries[s - 1] : NULL;
}

/* Double the slot table and re-place every entry (using the stored hashes). */
static int grow_slots(BytesMap *m) {
    size_t n_slots = m->n_slots * 2, mask = n_slots - 1;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    for (size_t k = 0; k < m->n_entries; k++) {
        size_t i = m->entries[k].hash & mask;
        while (slots[i]) i = (i + 1) & mask;
        slots[i] = (uint32_t)(k + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n_slots;
    return 0;
}

void *fb_grow(void *buf, size_t *cap, size_t len, size_t extra, size_t size) {
    if (buf && len + extra <= *cap) return buf;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < len + extra) cap2 *= 2;
    if (cap2 > SIZE_MAX / size) return NULL; /* the byte count would overflow */
    void *p = realloc(buf, cap2 * size);
    if (!p) return NULL; /* subtle: realloc failed, so `buf` is still valid and still the caller's */
    *cap = cap2;
    return p;
}

BMEntry *bm_upsert(BytesMap *m, const unsigned char *key, size_t len) {
    uint32_t hash = fb_hash(key, len);
    size_t i = find_slot(m, key, len, hash);
    if (m->slots[i]) return &m->entries[m->slots[i] - 1];
    /* A new key: 1. grow the table if it would pass half full (then find the slot again),
     * 2. copy the key into the arena, 3. append the entry and point the slot at it. */
    if (len > UINT32_MAX || m->n_entries + 1 >= UINT32_MAX) return NULL;
    if (2 * (m->n_entries + 1) > m->n_slots) {
        if (grow_slots(m) < 0) return NULL;
        i = find_slot(m, key, len, hash);
    }
    unsigned char *keys = fb_grow(m->keys, &m->keys_cap, m->keys_len, len, 1);
    if (!keys) return NULL;
    m->keys = keys;
    BMEntry *entries = fb_grow(m->entries, &m->cap_entries, m->n_entries, 1, sizeof(BMEntry));
    if (!entries) return NULL;
    m->entries = entries;
    if (len) memcpy(m->keys + m->keys_len, key, len);
    BMEntry *e = &m->entries[m->n_entries];
    e->off = m->keys_len;
    e->len = (uint32_t)len;
    e->hash = hash;
    e->value = 0;
    m->keys_len += len;
    m->slots[i] = (uint32_t)(++m->n_entries);
    return e;
}

int iv_push(IntVec *v, int32_t x) {
    int32_t *data = fb_grow(v->data, &v->cap, v->len, 1, sizeof(int32_t));
    if (!data) return -1;
    v->data = data;
    v->data[v->len++] = x;
    return 0;
}

void iv_free(IntVec *v) {
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}
