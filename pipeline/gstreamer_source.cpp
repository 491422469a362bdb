#include "pipeline/gstreamer_source.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>

#include "kernels/error.h"

namespace yoco::pipeline {

namespace {

constexpr GstClockTime kPollNs = 100 * GST_MSECOND;  // interrupt() latency

void init_gstreamer() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    GError* err = nullptr;
    if (!gst_init_check(nullptr, nullptr, &err)) {
      failure = err ? err->message : "unknown error";
      if (err) g_error_free(err);
    }
  });
  YOCO_REQUIRE(failure.empty(), "cannot initialise GStreamer: " + failure);
}

// The text of the first error (or, with `eos`, also end-of-stream) message waiting on the bus; empty if none.
std::string pop_bus_error(GstElement* pipeline, bool* eos) {
  GstBus* bus = gst_element_get_bus(pipeline);
  std::string text;
  while (GstMessage* msg = gst_bus_pop_filtered(bus, static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS))) {
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
      if (eos) *eos = true;
    } else if (text.empty()) {
      GError* err = nullptr;
      gchar* debug = nullptr;
      gst_message_parse_error(msg, &err, &debug);
      text = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " + (err ? err->message : "error");
      if (err) g_error_free(err);
      g_free(debug);
    }
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  return text;
}

}  // namespace

struct GstreamerSource::Impl {
  std::string description;
  SourceOptions options;
  SourceInfo info;
  GstElement* pipeline = nullptr;
  GstAppSink* sink = nullptr;
  std::atomic<bool> stop{false};
  FramePool pool;
  bool have_first = false;
  GstClockTime first_pts = GST_CLOCK_TIME_NONE;
  double last_pts = -1;
  double frame_duration = 1.0 / 30;
  int64_t delivered = 0;
  bool ended = false;
  mutable std::mutex stats_mu;
  SourceStats stats;

  Impl(const std::string& d, const SourceOptions& o) : description(d), options(o), pool(o.pool_buffers, 0) {}

  ~Impl() {
    if (pipeline) {
      gst_element_set_state(pipeline, GST_STATE_NULL);
      if (sink) gst_object_unref(sink);
      gst_object_unref(pipeline);
    }
  }

  void count(int64_t SourceStats::*field) {
    std::lock_guard<std::mutex> lock(stats_mu);
    stats.*field += 1;
  }

  GstAppSink* find_appsink() {
    GstIterator* it = gst_bin_iterate_sinks(GST_BIN(pipeline));
    GValue item = G_VALUE_INIT;
    GstAppSink* found = nullptr;
    while (!found && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      GstElement* e = GST_ELEMENT(g_value_get_object(&item));
      if (GST_IS_APP_SINK(e)) found = GST_APP_SINK(gst_object_ref(e));
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    return found;
  }

  void open() {
    init_gstreamer();
    std::string desc = description;
    if (desc.find("appsink") == std::string::npos)
      desc += " ! videoconvert ! video/x-raw,format=RGB ! appsink name=yoco_sink";
    GError* err = nullptr;
    GstElement* p = gst_parse_launch(desc.c_str(), &err);
    if (err) {
      const std::string msg = err->message;
      g_error_free(err);
      if (p) gst_object_unref(p);
      throw Error("gst: bad pipeline '" + description + "': " + msg);
    }
    YOCO_REQUIRE(p != nullptr, "gst: cannot build pipeline '" + description + "'");
    if (!GST_IS_BIN(p)) {  // a single element: wrap it so that the sink search works the same way
      gst_object_unref(p);
      throw Error("gst: pipeline '" + description + "' has no appsink");
    }
    pipeline = p;
    sink = find_appsink();
    YOCO_REQUIRE(sink != nullptr, "gst: pipeline '" + description + "' has no appsink");
    GstCaps* caps = gst_caps_from_string("video/x-raw,format=RGB");
    gst_app_sink_set_caps(sink, caps);
    gst_caps_unref(caps);
    gst_app_sink_set_max_buffers(sink, kAppsinkBuffers);
    g_object_set(G_OBJECT(sink), "sync", FALSE, "emit-signals", FALSE, nullptr);

    // PAUSED first: a live pipeline answers NO_PREROLL (it produces no data until PLAYING), a file prerolls.
    const auto fail = [&](const char* what) {
      const std::string e = pop_bus_error(pipeline, nullptr);
      throw Error("gst: cannot " + std::string(what) + " '" + description + "'" + (e.empty() ? "" : ": " + e));
    };
    GstStateChangeReturn ret = gst_element_set_state(pipeline, GST_STATE_PAUSED);
    if (ret == GST_STATE_CHANGE_FAILURE) fail("start");
    info.live = ret == GST_STATE_CHANGE_NO_PREROLL;
    if (!info.live) {
      ret = gst_element_get_state(pipeline, nullptr, nullptr, static_cast<GstClockTime>(options.open_timeout * GST_SECOND));
      if (ret == GST_STATE_CHANGE_FAILURE) fail("start");
      if (ret == GST_STATE_CHANGE_ASYNC)
        throw Error("gst: '" + description + "' did not start within " + std::to_string(options.open_timeout) + " s");
      info.live = ret == GST_STATE_CHANGE_NO_PREROLL;
    }
    if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) fail("play");
    // Live pipelines drop the oldest buffer rather than stall the capture; files block (nothing lost).
    gst_app_sink_set_drop(sink, info.live ? TRUE : FALSE);
    info.description = "gstreamer " + description;
  }

  bool read(Frame& out, const PtsFilter& want) {
    if (ended) return false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.read_timeout);
    for (;;) {
      if (stop) return false;
      GstSample* sample = gst_app_sink_try_pull_sample(sink, kPollNs);
      if (!sample) {
        bool eos = false;
        const std::string e = pop_bus_error(pipeline, &eos);
        if (!e.empty()) {
          count(&SourceStats::errors);
          throw Error("gst: " + e);
        }
        if (eos || gst_app_sink_is_eos(sink)) {
          ended = true;
          return false;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          count(&SourceStats::errors);
          throw Error("gst: no frame for " + std::to_string(options.read_timeout) + " s from '" + description + "'");
        }
        continue;
      }
      const bool got = deliver(sample, out, want);
      gst_sample_unref(sample);
      if (got) return true;
      deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.read_timeout);
    }
  }

  bool deliver(GstSample* sample, Frame& out, const PtsFilter& want) {
    count(&SourceStats::decoded);
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstCaps* caps = gst_sample_get_caps(sample);
    int w = 0, h = 0;
    if (!buf || !caps || gst_caps_get_size(caps) < 1 ||
        !gst_structure_get_int(gst_caps_get_structure(caps, 0), "width", &w) ||
        !gst_structure_get_int(gst_caps_get_structure(caps, 0), "height", &h) || w <= 0 || h <= 0 ||
        static_cast<int64_t>(w) * h > 8192LL * 8192LL) {
      count(&SourceStats::corrupt);
      return false;
    }
    const GstClockTime ts = GST_BUFFER_PTS(buf);
    double pts;
    if (GST_CLOCK_TIME_IS_VALID(ts)) {
      if (!have_first) first_pts = ts;
      pts = ts >= first_pts ? static_cast<double>(ts - first_pts) / GST_SECOND
                            : -static_cast<double>(first_pts - ts) / GST_SECOND;
      if (GST_BUFFER_DURATION_IS_VALID(buf) && GST_BUFFER_DURATION(buf) > 0)
        frame_duration = static_cast<double>(GST_BUFFER_DURATION(buf)) / GST_SECOND;
    } else {
      pts = last_pts < 0 ? 0.0 : last_pts + frame_duration;
      if (last_pts >= 0) count(&SourceStats::pts_repaired);
    }
    have_first = true;
    if (last_pts >= 0 && pts <= last_pts) {
      pts = last_pts + frame_duration;
      count(&SourceStats::pts_repaired);
    }
    last_pts = pts;
    if (want && !want(pts)) {
      count(&SourceStats::skipped);
      return false;
    }
    GstMapInfo map;
    if (!gst_buffer_map(buf, &map, GST_MAP_READ)) {
      count(&SourceStats::corrupt);
      return false;
    }
    const size_t row = static_cast<size_t>(w) * 3;
    const size_t stride = (row + 3) & ~size_t(3);  // GStreamer's default RGB row alignment
    const bool tight = map.size == row * h;
    const size_t src_stride = tight ? row : stride;
    if (map.size < src_stride * (h - 1) + row) {
      gst_buffer_unmap(buf, &map);
      count(&SourceStats::corrupt);
      return false;
    }
    out.pixels = pool.acquire(row * h);
    for (int y = 0; y < h; ++y) std::memcpy(out.pixels.data() + row * y, map.data + src_stride * y, row);
    gst_buffer_unmap(buf, &map);
    out.width = w;
    out.height = h;
    out.pts = pts;
    out.wall_time = wall_clock_now();
    out.index = delivered++;
    out.discontinuity = GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DISCONT) && delivered > 1;
    count(&SourceStats::produced);
    return true;
  }
};

GstreamerSource::GstreamerSource(const std::string& description, const SourceOptions& options)
    : impl_(std::make_unique<Impl>(description, options)) {
  impl_->open();
}

GstreamerSource::~GstreamerSource() = default;

bool GstreamerSource::read(Frame& out, const PtsFilter& want) { return impl_->read(out, want); }

void GstreamerSource::interrupt() { impl_->stop = true; }

SourceInfo GstreamerSource::info() const { return impl_->info; }

SourceStats GstreamerSource::stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

}  // namespace yoco::pipeline
