/* ids.h - fixed-size BitTorrent identifiers as value types.
 *
 * Wrapper structs (never array typedefs) so that they copy by value and the
 * compiler catches mix-ups between an info hash and a peer id.
 */
#ifndef RINGTRACKER_IDS_H
#define RINGTRACKER_IDS_H

#include <assert.h>
#include <stdint.h>

#define INFO_HASH_LEN 20
#define PEER_ID_LEN 20

/* SHA-1 of a torrent's info dictionary (BEP 3), raw bytes. */
struct info_hash {
	uint8_t b[INFO_HASH_LEN];
};

/* The client's self-chosen 20-byte id (BEP 3), raw bytes. */
struct peer_id {
	uint8_t b[PEER_ID_LEN];
};

static_assert(sizeof(struct info_hash) == 20, "info_hash is 20 bytes on the wire");
static_assert(sizeof(struct peer_id) == 20, "peer_id is 20 bytes on the wire");

#endif
