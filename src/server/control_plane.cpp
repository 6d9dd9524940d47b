#include "server/control_plane.h"

#include "store/open_store.h"

namespace allot::server {

Result<std::unique_ptr<ControlPlane>> ControlPlane::Open(ControlPlaneOptions options) {
  auto store = store::OpenStore(options.store_url);
  if (!store) return store.error();
  std::unique_ptr<ControlPlane> plane(new ControlPlane(std::move(options), std::move(*store)));
  if (Status configured = plane->loop_->SetSchedulerConfig(plane->options_.scheduler);
      !configured) {
    return configured.error();
  }
  plane->loop_->SetHistory(plane->options_.history_interval);
  plane->loop_->SetWorkloadUsage(&plane->workload_usage_);
  plane->loop_->SetLeadership(plane->leadership_.get());
  plane->serving_->SetLeadership(plane->leadership_.get());
  ControlPlane* raw = plane.get();
  plane->leadership_->OnElected([raw] {
    // Agents may be failing over just now: every node gets its full time.
    raw->liveness_.GraceFrom(raw->options_.now_ms());
    raw->loop_->Wake();
    raw->serving_->Wake();
  });
  return plane;
}

ControlPlane::ControlPlane(ControlPlaneOptions options, std::unique_ptr<store::Store> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      leadership_(std::make_unique<Leadership>(*store_, ServerIdentity(), options_.lease_ttl)),
      liveness_(options_.now_ms()),
      loop_(std::make_unique<SchedulingLoop>(*store_, options_.now_ms, &liveness_, options_.timings,
                                             &metrics_)),
      serving_(std::make_unique<ServingController>(*store_, options_.now_ms, directory_, traffic_,
                                                   [this] { loop_->Wake(); })) {}

ControlPlane::~ControlPlane() {
  Stop();
}

void ControlPlane::Start() {
  leadership_->Start();
  loop_->Start(std::chrono::seconds(1));
  serving_->Start();
}

void ControlPlane::Stop() {
  serving_->Stop();
  loop_->Stop();
  leadership_->Stop();
}

}  // namespace allot::server
