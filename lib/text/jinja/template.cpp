// Template::parse: lex, parse, and keep the tree; render runs a fresh Renderer over it.
#include "text/jinja/template.h"

#include "text/jinja/lexer.h"
#include "text/jinja/parser.h"
#include "text/jinja/render.h"

namespace smoe::text::jinja {
namespace {

class ParsedTemplate final : public Template {
 public:
  explicit ParsedTemplate(Body body) : body_(std::move(body)) {}

  std::string render(const nlohmann::ordered_json& variables, std::time_t now) const override {
    if (!variables.is_object()) fail("template variables must be a JSON object");
    Renderer renderer(Value::from_json(variables), now);
    return renderer.render(body_);
  }

 private:
  Body body_;
};

}  // namespace

std::shared_ptr<const Template> Template::parse(std::string_view source) {
  return std::make_shared<ParsedTemplate>(jinja::parse(tokenize(source)));
}

}  // namespace smoe::text::jinja
