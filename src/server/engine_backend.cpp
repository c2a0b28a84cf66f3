#include "server/engine_backend.h"

#include "model/model.h"

namespace hearth::server {

EngineBackend::EngineBackend(const Model& model, ModelInfo info, const engine::SchedulerOptions& options,
                             const std::string& template_source)
    : model_(model), info_(std::move(info)), chat_(model, template_source) {
  const HParams& hp = model.hparams();
  info_.architecture = hp.arch;
  info_.n_ctx_train = hp.n_ctx_train;
  info_.n_embd = hp.n_embd;
  info_.n_layer = hp.n_layer;
  info_.n_head = hp.n_head;
  info_.n_head_kv = hp.n_head_kv;
  info_.n_vocab = model.tokenizer().n_vocab();
  info_.file_size = model.file().file_size();
  info_.n_params = 0;
  for (const auto& t : model.file().tensors()) info_.n_params += static_cast<uint64_t>(t.n_elements);
  info_.template_name = std::string(chat_.name());
  if (!template_source.empty()) {
    info_.chat_template = template_source;
  } else if (chat_.fallback_used()) {
    info_.chat_template = engine::kChatMlTemplate;
  } else {
    info_.chat_template = model.file().get_string_or("tokenizer.chat_template", "");
  }
  scheduler_ = std::make_unique<engine::Scheduler>(model, options);
}

EngineBackend::~EngineBackend() = default;

std::vector<TokenId> EngineBackend::encode(const std::string& text) const {
  return model_.tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/false);
}

std::vector<TokenId> EngineBackend::chat_tokens(const json& messages) const {
  // ChatTemplate::render and Tokenizer::encode are thread-safe (const, per-call state).
  return chat_.tokens(messages, json(nullptr), /*add_generation_prompt=*/true);
}

std::string EngineBackend::token_piece(TokenId id) const { return model_.tokenizer().token_to_piece(id, true); }

int32_t EngineBackend::n_ctx() const { return scheduler_->n_ctx(); }

bool EngineBackend::submit(engine::GenerationRequest request, engine::Scheduler::TokenCallback on_token,
                           engine::Scheduler::DoneCallback on_done) {
  return scheduler_->submit(std::move(request), std::move(on_token), std::move(on_done));
}

std::vector<float> EngineBackend::embed(const std::vector<TokenId>& tokens) { return scheduler_->embed(tokens); }

engine::SchedulerStats EngineBackend::stats() const { return scheduler_->stats(); }

void EngineBackend::shutdown(bool cancel) { scheduler_->shutdown(cancel); }

}  // namespace hearth::server
