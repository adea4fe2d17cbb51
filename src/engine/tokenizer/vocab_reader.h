#pragma once

#include "engine/tokenizer/vocab_spec.h"

namespace tether::gguf {
class GgufFile;
}

namespace tether::tokenizer {

// Collects the `tokenizer.ggml.*` keys (and general.name) of a GGUF file
// into a VocabSpec. Throws Error when a key is present with the wrong type;
// absent keys are left for Vocab to default or reject.
VocabSpec read_vocab_spec(const gguf::GgufFile& file);

}  // namespace tether::tokenizer
