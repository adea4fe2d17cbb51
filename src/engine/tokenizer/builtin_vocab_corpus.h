#pragma once

#include <string>

namespace tether::tokenizer {

// The text the built-in vocabulary's merges are learned from: original prose,
// dialogue, code, data and numbers written for this project (about 30 KB), so
// the learned tokens look like those of a general-purpose model's vocabulary.
// Changing it changes every model made with the built-in vocabulary.
const std::string& builtin_vocab_corpus();

}  // namespace tether::tokenizer
