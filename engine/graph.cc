#include "engine/graph.h"

#include <algorithm>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace octet {

int64_t Attributes::GetInt(const std::string& name, int64_t default_value) const {
  auto it = map_.find(name);
  if (it == map_.end()) return default_value;
  return std::get<int64_t>(it->second);
}

float Attributes::GetFloat(const std::string& name, float default_value) const {
  auto it = map_.find(name);
  if (it == map_.end()) return default_value;
  return std::get<float>(it->second);
}

std::string Attributes::GetString(const std::string& name, const std::string& default_value) const {
  auto it = map_.find(name);
  if (it == map_.end()) return default_value;
  return std::get<std::string>(it->second);
}

std::vector<int64_t> Attributes::GetInts(const std::string& name,
                                         const std::vector<int64_t>& default_value) const {
  auto it = map_.find(name);
  if (it == map_.end()) return default_value;
  return std::get<std::vector<int64_t>>(it->second);
}

std::vector<float> Attributes::GetFloats(const std::string& name) const {
  auto it = map_.find(name);
  if (it == map_.end()) return {};
  return std::get<std::vector<float>>(it->second);
}

const Tensor* Attributes::GetTensor(const std::string& name) const {
  auto it = map_.find(name);
  if (it == map_.end()) return nullptr;
  return &std::get<Tensor>(it->second);
}

ValueId Graph::AddValue(std::string name, DataType dtype, Shape shape) {
  ValueId id = static_cast<ValueId>(values_.size());
  if (!name.empty()) by_name_[name] = id;
  Value value;
  value.name = std::move(name);
  value.dtype = dtype;
  value.shape = std::move(shape);
  values_.push_back(std::move(value));
  return id;
}

ValueId Graph::AddConstant(std::string name, Tensor data) {
  ValueId id = AddValue(std::move(name), data.dtype(), data.shape());
  values_[id].constant = std::make_shared<const Tensor>(std::move(data));
  return id;
}

ValueId Graph::FindValue(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? kNoValue : it->second;
}

void Graph::SetConstant(ValueId id, Tensor data) {
  values_[id].dtype = data.dtype();
  values_[id].shape = data.shape();
  values_[id].constant = std::make_shared<const Tensor>(std::move(data));
}

std::vector<int> Graph::ProducerIndex() const {
  std::vector<int> producer(values_.size(), -1);
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    for (ValueId v : nodes_[i].outputs) {
      if (v != kNoValue) producer[v] = i;
    }
  }
  return producer;
}

std::vector<std::vector<int>> Graph::ConsumerIndex() const {
  std::vector<std::vector<int>> consumers(values_.size());
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    for (ValueId v : nodes_[i].inputs) {
      if (v == kNoValue) continue;
      auto& list = consumers[v];
      if (list.empty() || list.back() != i) list.push_back(i);
    }
  }
  return consumers;
}

bool Graph::IsGraphOutput(ValueId id) const {
  return std::find(outputs_.begin(), outputs_.end(), id) != outputs_.end();
}

void Graph::ReplaceAllUses(ValueId from, ValueId to) {
  for (Node& node : nodes_) {
    std::replace(node.inputs.begin(), node.inputs.end(), from, to);
  }
  std::replace(outputs_.begin(), outputs_.end(), from, to);
}

absl::Status Graph::TopologicalSort() {
  std::vector<int> producer = ProducerIndex();
  std::vector<int> pending(nodes_.size(), 0);
  std::vector<std::vector<int>> dependents(nodes_.size());
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    for (ValueId v : nodes_[i].inputs) {
      if (v == kNoValue) continue;
      int p = producer[v];
      if (p < 0) {
        bool is_input = std::find(inputs_.begin(), inputs_.end(), v) != inputs_.end();
        if (!is_input && !IsConstant(v)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "node '", nodes_[i].name, "' reads '", values_[v].name, "', which no node produces"));
        }
        continue;
      }
      ++pending[i];
      dependents[p].push_back(i);
    }
  }
  std::deque<int> ready;
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (pending[i] == 0) ready.push_back(i);
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes_.size());
  while (!ready.empty()) {
    int i = ready.front();
    ready.pop_front();
    for (int d : dependents[i]) {
      if (--pending[d] == 0) ready.push_back(d);
    }
    sorted.push_back(std::move(nodes_[i]));
  }
  if (sorted.size() != nodes_.size()) {
    // The nodes left unsorted are on a cycle or downstream of one; name a few of them.
    std::vector<std::string> stuck;
    for (int i = 0; i < static_cast<int>(nodes_.size()) && stuck.size() < 3; ++i) {
      if (pending[i] > 0) stuck.push_back(absl::StrCat("'", nodes_[i].name, "'"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "the graph has a cycle (through or fed by node(s) ", absl::StrJoin(stuck, ", "), ")"));
  }
  nodes_ = std::move(sorted);
  return absl::OkStatus();
}

void Graph::RemoveDeadNodes() {
  bool changed = true;
  while (changed) {
    changed = false;
    std::vector<std::vector<int>> consumers = ConsumerIndex();
    std::vector<Node> kept;
    kept.reserve(nodes_.size());
    for (Node& node : nodes_) {
      bool live = false;
      for (ValueId v : node.outputs) {
        if (v != kNoValue && (!consumers[v].empty() || IsGraphOutput(v))) live = true;
      }
      if (live) {
        kept.push_back(std::move(node));
      } else {
        changed = true;
      }
    }
    nodes_ = std::move(kept);
  }
}

}  // namespace octet
