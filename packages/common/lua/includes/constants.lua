-- Shared by every ledger script (inlined by the loader).
-- Largest integer a JSON client can hold exactly (2^53 - 1); no balance may pass it.
local MAX_SAFE = 9007199254740991
-- Transaction record states.
local RESERVED, COMMITTED, ABORTED = 'r', 'c', 'a'
