#include "pipeline/opencv_camera_source.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "kernels/error.h"

namespace yoco::pipeline {

struct OpenCvCameraSource::Impl {
  std::string name;
  SourceOptions options;
  SourceInfo info;
  cv::VideoCapture cap;
  FramePool pool;
  std::thread grabber;
  std::atomic<bool> stop{false};

  std::mutex mu;  // guards everything below
  std::condition_variable fresh;
  Frame latest;             // newest converted frame, not yet handed out (pixels empty when none)
  bool grab_ended = false;  // grab thread finished (error or end of input)
  std::string grab_error;
  bool dropped_since_read = false;
  int64_t grabbed = 0, delivered = 0;
  SourceStats stats;
  std::chrono::steady_clock::time_point t0;

  Impl(std::string n, const SourceOptions& o) : name(std::move(n)), options(o), pool(o.pool_buffers, 0) {}

  ~Impl() {
    stop = true;
    if (grabber.joinable()) grabber.join();
  }

  void start() {
    info.live = true;
    info.width = static_cast<int>(cap.get(cv::CAP_PROP_FRAME_WIDTH));
    info.height = static_cast<int>(cap.get(cv::CAP_PROP_FRAME_HEIGHT));
    const double fps = cap.get(cv::CAP_PROP_FPS);
    info.nominal_fps = fps > 0 && fps < 1000 ? fps : 0;
    info.description = "opencv " + name;
    grabber = std::thread([this] { grab_loop(); });
  }

  void grab_loop() {
    cv::Mat bgr;
    auto last_ok = std::chrono::steady_clock::now();
    while (!stop) {
      bool ok = false;
      try {
        ok = cap.read(bgr) && !bgr.empty() && bgr.type() == CV_8UC3;
      } catch (const cv::Exception& e) {
        ok = false;
      }
      const auto now = std::chrono::steady_clock::now();
      if (!ok) {
        std::lock_guard<std::mutex> lock(mu);
        stats.errors++;
        if (std::chrono::duration<double>(now - last_ok).count() > options.read_timeout || !cap.isOpened() ||
            (grabbed > 0 && cap.get(cv::CAP_PROP_FRAME_COUNT) > 0)) {  // a file at its end
          grab_error = grabbed > 0 && cap.get(cv::CAP_PROP_FRAME_COUNT) > 0
                           ? ""
                           : name + ": no frame for " + std::to_string(options.read_timeout) + " s (device gone?)";
          break;
        }
        continue;
      }
      last_ok = now;
      Frame f;
      f.pixels = pool.acquire(static_cast<size_t>(bgr.cols) * bgr.rows * 3);
      cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, f.pixels.data());
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
      f.width = bgr.cols;
      f.height = bgr.rows;
      f.wall_time = wall_clock_now();
      std::lock_guard<std::mutex> lock(mu);
      if (grabbed == 0) t0 = now;
      f.pts = std::chrono::duration<double>(now - t0).count();
      stats.decoded++;
      grabbed++;
      if (!latest.pixels.empty()) {
        stats.dropped++;
        dropped_since_read = true;
      }
      latest = std::move(f);
      fresh.notify_one();
    }
    std::lock_guard<std::mutex> lock(mu);
    grab_ended = true;
    fresh.notify_all();
  }

  bool read(Frame& out, const PtsFilter& want) {
    std::unique_lock<std::mutex> lock(mu);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.read_timeout);
    for (;;) {
      fresh.wait_for(lock, std::chrono::milliseconds(100),
                     [&] { return stop || grab_ended || !latest.pixels.empty(); });
      if (stop) return false;
      if (!latest.pixels.empty()) {
        Frame f = std::move(latest);
        latest = Frame();
        if (want && !want(f.pts)) {
          stats.skipped++;
          continue;
        }
        out = std::move(f);
        out.index = delivered++;
        out.discontinuity = dropped_since_read;
        dropped_since_read = false;
        stats.produced++;
        return true;
      }
      if (grab_ended) {
        if (!grab_error.empty()) throw Error(grab_error);
        return false;
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw Error(name + ": no frame for " + std::to_string(options.read_timeout) + " s");
    }
  }
};

OpenCvCameraSource::OpenCvCameraSource(int index, const SourceOptions& options)
    : impl_(std::make_unique<Impl>("camera:" + std::to_string(index), options)) {
  const std::string dev = "/dev/video" + std::to_string(index);
  YOCO_REQUIRE(std::filesystem::exists(dev), "camera:" + std::to_string(index) + ": " + dev + " does not exist");
  const std::vector<int> params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, static_cast<int>(options.open_timeout * 1000),
                                   cv::CAP_PROP_READ_TIMEOUT_MSEC, static_cast<int>(options.read_timeout * 1000)};
  bool opened = false;
  try {
    opened = impl_->cap.open(index, cv::CAP_ANY, params);
  } catch (const cv::Exception& e) {
    throw Error("camera:" + std::to_string(index) + ": " + e.what());
  }
  YOCO_REQUIRE(opened && impl_->cap.isOpened(), "camera:" + std::to_string(index) + ": cannot open " + dev);
  impl_->start();
}

OpenCvCameraSource::OpenCvCameraSource(const std::string& path, const SourceOptions& options)
    : impl_(std::make_unique<Impl>(path, options)) {
  bool opened = false;
  try {
    opened = impl_->cap.open(path, cv::CAP_ANY);
  } catch (const cv::Exception& e) {
    throw Error(path + ": " + e.what());
  }
  YOCO_REQUIRE(opened && impl_->cap.isOpened(), "opencv: cannot open '" + path + "'");
  impl_->start();
}

OpenCvCameraSource::~OpenCvCameraSource() = default;

bool OpenCvCameraSource::read(Frame& out, const PtsFilter& want) { return impl_->read(out, want); }

void OpenCvCameraSource::interrupt() {
  impl_->stop = true;
  impl_->fresh.notify_all();
}

SourceInfo OpenCvCameraSource::info() const { return impl_->info; }

SourceStats OpenCvCameraSource::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

}  // namespace yoco::pipeline
