/* A bump allocator for cJSON trees that live for one record.
 *
 * Parsing a small event with cJSON costs a dozen malloc/free pairs, which is
 * half of validate's time per record. With the arena installed, allocations
 * made between jsonarena_begin() and jsonarena_end() come from a few large
 * chunks that are reused for every record; cJSON_Delete() of such a tree is
 * then almost free. cJSON's hooks are process-wide, so the arena is too:
 * only single-threaded tools whose per-record trees never outlive the record
 * should use it. Outside begin/end, cJSON allocates with malloc as usual. */
#ifndef EP_JSONARENA_H
#define EP_JSONARENA_H

#include <stdbool.h>
#include <stddef.h>

/* Points cJSON's allocation hooks at the arena. Call once, before any
 * cJSON value that will later be freed exists. Returns false when out of
 * memory (the hooks are then left alone). */
bool jsonarena_install(void);

/* Allocations until jsonarena_end() come from the arena. */
void jsonarena_begin(void);

/* Every arena allocation becomes invalid; memory is kept for reuse (a chunk
 * grown for one huge record is released, so memory stays flat). */
void jsonarena_end(void);

/* Releases the arena (after the last record); cJSON goes back to malloc. */
void jsonarena_uninstall(void);

#endif
