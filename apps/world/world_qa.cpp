#include "apps/world/world_qa.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <set>

namespace yoco::world {

namespace {

std::string plural(int shape) { return std::string(kShapeNames[shape]) + "s"; }

class QaMaker {
 public:
  explicit QaMaker(const Scenario& sc) : sc_(sc), rng_(sc.options.seed ^ 0x51ED2701F00DCAFEull) {
    std::set<double> starts;
    for (const auto& e : sc.events) starts.insert(e.t);
    const int last = static_cast<int>(std::floor(sc.last_pts() + 1e-9));
    for (int a = 1; a <= last; ++a)
      if (!starts.count(a)) ats_.push_back(a);
  }

  std::vector<QaItem> make() {
    const int n = std::min(12, 2 + static_cast<int>(sc_.options.seconds / 20.0));
    using Gen = std::optional<QaItem> (QaMaker::*)(double);
    const std::vector<Gen> gens = {&QaMaker::count, &QaMaker::now,  &QaMaker::colour, &QaMaker::shape,
                                   &QaMaker::direction, &QaMaker::first, &QaMaker::last, &QaMaker::when,
                                   &QaMaker::times, &QaMaker::code, &QaMaker::summary};
    std::vector<QaItem> out;
    std::set<std::pair<double, std::string>> seen;
    if (!ats_.empty()) {
      for (Gen g : gens) {
        int made = 0;
        for (int attempt = 0; attempt < 8 * n && made < n; ++attempt) {
          const double at = ats_[rng_.uniform_int(0, static_cast<int>(ats_.size()) - 1)];
          auto q = (this->*g)(at);
          if (!q || !seen.insert({q->at, q->question}).second) continue;
          out.push_back(*q);
          ++made;
        }
      }
    }
    const double end = std::floor(sc_.last_pts() + 1e-9);
    out.push_back({end, "summary", "give a timestamped summary of the events.", summarize(sc_, -1.0, end)});
    if (sc_.options.needle_mode()) {
      std::string answer = "no code was shown";
      for (const auto& c : sc_.codes)
        if (c.boxed) answer = c.digits;
      out.push_back({end, "needle", "what code was shown in the white box?", answer});
    }
    std::stable_sort(out.begin(), out.end(), [](const QaItem& a, const QaItem& b) { return a.at < b.at; });
    return out;
  }

 private:
  const Scenario& sc_;
  Rng rng_;
  std::vector<double> ats_;

  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[rng_.uniform_int(0, static_cast<int>(v.size()) - 1)];
  }
  bool flashing(double at) const {
    for (const auto& f : sc_.flashes)
      if (f.visible(at)) return true;
    return false;
  }
  std::vector<const WorldObject*> visible(double at) const {
    std::vector<const WorldObject*> v;
    for (const auto& ob : sc_.objects)
      if (ob.visible(at)) v.push_back(&ob);
    return v;
  }
  std::vector<const WorldObject*> entered(double at) const {  // in order of appearance
    std::vector<const WorldObject*> v;
    for (const auto& ob : sc_.objects)
      if (ob.enter <= at) v.push_back(&ob);
    return v;
  }
  std::vector<const WorldCode*> boxed_codes(double at) const {
    std::vector<const WorldCode*> v;
    for (const auto& c : sc_.codes)
      if (c.boxed && c.start <= at) v.push_back(&c);
    return v;
  }
  static int count_if(const std::vector<const WorldObject*>& v, const std::function<bool(const WorldObject&)>& f) {
    return static_cast<int>(std::count_if(v.begin(), v.end(), [&](const WorldObject* o) { return f(*o); }));
  }

  std::optional<QaItem> count(double at) {
    if (flashing(at)) return std::nullopt;
    const auto vis = visible(at);
    // Half the time ask about something on screen, else about any colour/shape (answers of 0 included).
    int colour = rng_.uniform_int(0, 5), shape = rng_.uniform_int(0, 2);
    if (!vis.empty() && rng_.chance(0.5)) {
      colour = pick(vis)->colour;
      shape = pick(vis)->shape;
    }
    const int form = rng_.uniform_int(0, 5);
    std::string q;
    int n = 0;
    if (form <= 2) {
      q = form == 0 ? "how many objects are there?"
                    : form == 1 ? "how many objects are on screen now?" : "how many shapes can you see?";
      n = static_cast<int>(vis.size());
    } else if (form == 3) {
      q = std::string("how many ") + kColourNames[colour] + " objects are there?";
      n = count_if(vis, [&](const WorldObject& o) { return o.colour == colour; });
    } else if (form == 4) {
      q = "how many " + plural(shape) + " are there?";
      n = count_if(vis, [&](const WorldObject& o) { return o.shape == shape; });
    } else {
      q = std::string("how many ") + kColourNames[colour] + " " + plural(shape) + " are there?";
      n = count_if(vis, [&](const WorldObject& o) { return o.colour == colour && o.shape == shape; });
    }
    return QaItem{at, "count", q, std::to_string(n)};
  }

  std::optional<QaItem> now(double at) {
    if (flashing(at)) return std::nullopt;
    static const std::vector<std::string> qs = {"what is on screen now?", "what objects are there now?",
                                                "what can you see now?"};
    std::string a;
    for (const auto* o : visible(at)) a += (a.empty() ? "" : ", ") + o->name();
    return QaItem{at, "now", pick(qs), a.empty() ? "nothing" : a};
  }

  std::optional<QaItem> colour(double at) {
    const auto vis = visible(at);
    if (flashing(at) || vis.empty()) return std::nullopt;
    const WorldObject& o = *pick(vis);
    if (rng_.chance(0.5)) {
      if (count_if(vis, [&](const WorldObject& x) { return x.shape == o.shape; }) != 1) return std::nullopt;
      return QaItem{at, "colour", std::string("what colour is the ") + kShapeNames[o.shape] + "?",
                    kColourNames[o.colour]};
    }
    if (count_if(vis, [&](const WorldObject& x) { return x.direction == o.direction; }) != 1) return std::nullopt;
    return QaItem{at, "colour", std::string("what colour is the object moving ") + kDirectionNames[o.direction] + "?",
                  kColourNames[o.colour]};
  }

  std::optional<QaItem> shape(double at) {
    const auto vis = visible(at);
    if (flashing(at) || vis.empty()) return std::nullopt;
    const WorldObject& o = *pick(vis);
    if (count_if(vis, [&](const WorldObject& x) { return x.colour == o.colour; }) != 1) return std::nullopt;
    const std::string c = kColourNames[o.colour];
    const std::string q = rng_.chance(0.5) ? "what shape is the " + c + " object?"
                                           : "what is the shape of the " + c + " object?";
    return QaItem{at, "shape", q, kShapeNames[o.shape]};
  }

  std::optional<QaItem> direction(double at) {
    const auto vis = visible(at);
    if (flashing(at) || vis.empty()) return std::nullopt;
    const WorldObject& o = *pick(vis);  // colour+shape is unique on screen by construction
    static const std::vector<std::string> forms = {"which way is the %s moving?",
                                                   "in which direction is the %s moving?",
                                                   "where is the %s going?"};
    std::string q = pick(forms);
    q.replace(q.find("%s"), 2, o.name());
    return QaItem{at, "direction", q, kDirectionNames[o.direction]};
  }

  std::optional<QaItem> first(double at) {
    const auto ent = entered(at);
    if (ent.empty()) return std::nullopt;
    const WorldObject& o = *ent.front();
    switch (rng_.uniform_int(0, 2)) {
      case 0: return QaItem{at, "first", "what appeared first?", o.name()};
      case 1: return QaItem{at, "first", "what colour was the first object to appear?", kColourNames[o.colour]};
      default: return QaItem{at, "first", "what shape appeared first?", kShapeNames[o.shape]};
    }
  }

  std::optional<QaItem> last(double at) {
    const auto ent = entered(at);
    if (ent.empty()) return std::nullopt;
    const WorldObject& o = *ent.back();
    switch (rng_.uniform_int(0, 2)) {
      case 0: return QaItem{at, "last", "what appeared last?", o.name()};
      case 1: return QaItem{at, "last", "what was the most recent object to appear?", o.name()};
      default: return QaItem{at, "last", "what colour was the last object to appear?", kColourNames[o.colour]};
    }
  }

  std::optional<QaItem> when(double at) {
    const int form = rng_.uniform_int(0, 3);
    if (form <= 1) {
      const auto ent = entered(at);
      if (ent.empty()) return std::nullopt;
      const WorldObject& o = *pick(ent);
      if (count_if(ent, [&](const WorldObject& x) { return x.colour == o.colour && x.shape == o.shape; }) != 1)
        return std::nullopt;
      if (form == 0) return QaItem{at, "when", "when did the " + o.name() + " appear?", format_mm_ss(o.enter)};
      if (o.leave > at) return std::nullopt;
      return QaItem{at, "when", "when did the " + o.name() + " leave?", format_mm_ss(o.leave)};
    }
    if (form == 2) {
      std::vector<const WorldFlash*> fl;
      for (const auto& f : sc_.flashes)
        if (f.start <= at) fl.push_back(&f);
      if (fl.size() != 1) return std::nullopt;
      return QaItem{at, "when", "when did the screen flash?", format_mm_ss(fl[0]->start)};
    }
    const auto codes = boxed_codes(at);
    if (codes.size() != 1) return std::nullopt;
    // Needle mode asks in the needle test's words (apps/eval/eval_needle.h kNeedleWhenQuestion).
    return QaItem{at, "when", sc_.options.needle_mode() ? "when was the code in the white box shown?" : "when was the code shown?",
                  format_mm_ss(codes[0]->start)};
  }

  std::optional<QaItem> times(double at) {
    const auto ent = entered(at);
    switch (rng_.uniform_int(0, 4)) {
      case 0: {
        int n = 0;
        for (const auto& f : sc_.flashes) n += f.start <= at ? 1 : 0;
        return QaItem{at, "times", "how many times did the screen flash?", std::to_string(n)};
      }
      case 1:
        if (sc_.options.needle_mode()) return std::nullopt;
        return QaItem{at, "times", "how many codes were shown?", std::to_string(boxed_codes(at).size())};
      case 2: {
        const int c = rng_.uniform_int(0, 5);
        return QaItem{at, "times", std::string("how many ") + kColourNames[c] + " objects have appeared?",
                      std::to_string(count_if(ent, [&](const WorldObject& o) { return o.colour == c; }))};
      }
      case 3: return QaItem{at, "times", "how many objects have appeared so far?", std::to_string(ent.size())};
      default:
        return QaItem{at, "times", "how many objects have left?",
                      std::to_string(count_if(ent, [&](const WorldObject& o) { return o.leave <= at; }))};
    }
  }

  std::optional<QaItem> code(double at) {
    const auto codes = boxed_codes(at);
    const std::string none = "no code was shown";
    if (sc_.options.needle_mode())
      return QaItem{at, "code", "what code was shown in the white box?", codes.empty() ? none : codes.back()->digits};
    switch (rng_.uniform_int(0, 3)) {
      case 0:
        if (codes.size() > 1) return std::nullopt;
        return QaItem{at, "code", "what code was shown?", codes.empty() ? none : codes[0]->digits};
      case 1: return QaItem{at, "code", "what was the last code shown?", codes.empty() ? none : codes.back()->digits};
      case 2:
        return QaItem{at, "code", "what was the first code shown?", codes.empty() ? none : codes.front()->digits};
      default:
        for (const auto* c : codes)
          if (c->visible(at)) return QaItem{at, "code", "what code is on screen now?", c->digits};
        return std::nullopt;
    }
  }

  std::optional<QaItem> summary(double at) {
    if (rng_.chance(0.5))
      return QaItem{at, "summary", "what happened in the last 10 seconds?", summarize(sc_, at - 10.0, at)};
    return QaItem{at, "summary", rng_.chance(0.5) ? "what happened so far?" : "summarize what happened.",
                  summarize(sc_, -1.0, at)};
  }
};

}  // namespace

std::string summarize(const Scenario& sc, double from, double to) {
  std::string s;
  for (const auto& e : sc.events) {
    if (e.t <= from || e.t > to) continue;
    std::string item = format_mm_ss(e.t) + " ";
    switch (e.type) {
      case EventType::kEnter: {
        const auto& o = sc.objects[e.object];
        item += o.name() + " enters moving " + kDirectionNames[o.direction];
        break;
      }
      case EventType::kLeave: item += sc.objects[e.object].name() + " leaves"; break;
      case EventType::kCode: {
        const auto& c = sc.codes[e.code];
        item += (c.boxed ? "code " : "yellow code ") + c.digits;
        break;
      }
      case EventType::kFlash: item += "flash"; break;
    }
    s += (s.empty() ? "" : "; ") + item;
  }
  return s.empty() ? "nothing happened" : s;
}

std::vector<QaItem> make_qa(const Scenario& sc) { return QaMaker(sc).make(); }

nlohmann::ordered_json truth_json(const Scenario& sc, const std::vector<QaItem>& qa) {
  using J = nlohmann::ordered_json;
  const WorldOptions& o = sc.options;
  J j;
  j["version"] = 1;
  j["seed"] = o.seed;
  j["seconds"] = o.seconds;
  j["width"] = o.width;
  j["height"] = o.height;
  j["fps"] = o.fps;
  j["frames"] = sc.n_frames;
  if (o.needle_mode()) {
    J n;
    n["code"] = nullptr;
    n["at"] = nullptr;
    J d = J::array();
    for (const auto& c : sc.codes) {
      if (c.boxed) {
        n["code"] = c.digits;
        n["at"] = c.start;
      } else {
        d.push_back(c.digits);
      }
    }
    n["distractors"] = d;
    j["needle"] = n;
  } else {
    j["needle"] = nullptr;
  }
  J objs = J::array();
  for (const auto& ob : sc.objects) {
    J x;
    x["id"] = ob.id;
    x["colour"] = kColourNames[ob.colour];
    x["shape"] = kShapeNames[ob.shape];
    x["size"] = kSizeNames[ob.size];
    x["direction"] = kDirectionNames[ob.direction];
    x["enter"] = ob.enter;
    x["leave"] = ob.leave;
    x["x"] = ob.x0;
    x["y"] = ob.y0;
    x["vx"] = ob.vx;
    x["vy"] = ob.vy;
    x["radius"] = ob.radius;
    objs.push_back(x);
  }
  j["objects"] = objs;
  J ev = J::array();
  for (const auto& e : sc.events) {
    J x;
    x["at"] = e.t;
    x["type"] = event_type_name(e.type);
    if (e.object >= 0) {
      const auto& ob = sc.objects[e.object];
      x["id"] = ob.id;
      x["colour"] = kColourNames[ob.colour];
      x["shape"] = kShapeNames[ob.shape];
      x["size"] = kSizeNames[ob.size];
      x["direction"] = kDirectionNames[ob.direction];
    } else if (e.type == EventType::kCode) {
      const auto& c = sc.codes[e.code];
      x["code"] = c.digits;
      x["boxed"] = c.boxed;
      x["until"] = c.end;
      x["box"] = {c.box.x0, c.box.y0, c.box.x1, c.box.y1};
    } else {
      for (const auto& f : sc.flashes)
        if (f.start == e.t) x["until"] = f.end;
    }
    ev.push_back(x);
  }
  j["events"] = ev;
  J q = J::array();
  for (const auto& item : qa)
    q.push_back(J{{"at", item.at}, {"type", item.type}, {"question", item.question}, {"answer", item.answer}});
  j["qa"] = q;
  return j;
}

}  // namespace yoco::world
