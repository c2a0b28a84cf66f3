// The real Backend: a loaded model, its chat template and the
// continuous-batching scheduler.
#pragma once

#include <memory>
#include <string>

#include "engine/chat_prompt.h"
#include "engine/scheduler.h"
#include "server/backend.h"

namespace hearth {
class Model;
}

namespace hearth::server {

class EngineBackend : public Backend {
 public:
  // `model` must outlive the backend. template_source: a --chat-template
  // override ("" for the model's own, or ChatML when it has none). Fills
  // info.architecture, sizes, template fields from the model.
  EngineBackend(const Model& model, ModelInfo info, const engine::SchedulerOptions& options,
                const std::string& template_source);
  ~EngineBackend() override;

  const ModelInfo& info() const override { return info_; }
  std::vector<TokenId> encode(const std::string& text) const override;
  std::vector<TokenId> chat_tokens(const json& messages) const override;
  std::string token_piece(TokenId id) const override;
  int32_t n_ctx() const override;
  bool submit(engine::GenerationRequest request, engine::Scheduler::TokenCallback on_token,
              engine::Scheduler::DoneCallback on_done) override;
  std::vector<float> embed(const std::vector<TokenId>& tokens) override;
  engine::SchedulerStats stats() const override;
  void shutdown(bool cancel) override;

  bool template_fallback_used() const { return chat_.fallback_used(); }

 private:
  const Model& model_;
  ModelInfo info_;
  engine::ChatPrompt chat_;
  std::unique_ptr<engine::Scheduler> scheduler_;
};

}  // namespace hearth::server
