// The minimal embedding program: load a model, chat once, stream the answer.
//   smoe-embed-example MODEL.smoe "question"
#include <cstdio>
#include <smoe/smoe.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.smoe \"question\"\n", argv[0]);
    return 2;
  }
  try {
    const auto model = smoe::Model::load(argv[1], {.threads = 0, .context_size = 1024});
    auto session = model->create_session();
    const std::vector<int32_t> prompt = model->tokenize_chat({{"user", argv[2]}});
    smoe::GenerateOptions options;
    options.max_tokens = 48;
    options.sampler.seed = 42;
    session->generate(prompt, options, [](int32_t, std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      return true;  // false would stop here
    });
    std::printf("\n%.1f tokens/s\n", session->stats().generated_tokens_per_second());
  } catch (const smoe::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
