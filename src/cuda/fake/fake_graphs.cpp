// The fake driver's graphs: kernel and memory-allocation nodes, launched
// as one piece of work.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda/fake/fake_driver.h"

using namespace allot::fake_cuda;


FAKE_EXPORT CUresult cuGraphCreate(CUgraph* graph, unsigned int) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *graph = reinterpret_cast<CUgraph>(new Graph());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  auto* fake = reinterpret_cast<Graph*>(graph);
  if (fake == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (GraphNode* node : fake->nodes) {
    if (node->allocation != 0) (void)UnmapDeviceMemory(node->allocation);
    delete node;
  }
  delete fake;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphAddKernelNode(CUgraphNode* node, CUgraph graph, const CUgraphNode*,
                                          size_t, const CUDA_KERNEL_NODE_PARAMS* parameters) {
  if (node == nullptr || graph == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* created =
      new GraphNode{KernelNs(parameters->gridDimX, parameters->gridDimY, parameters->gridDimZ), 0};
  reinterpret_cast<Graph*>(graph)->nodes.push_back(created);
  *node = reinterpret_cast<CUgraphNode>(created);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode* node, CUgraph graph, const CUgraphNode*,
                                            size_t, CUDA_MEM_ALLOC_NODE_PARAMS* parameters) {
  if (node == nullptr || graph == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  int device = parameters->poolProps.location.id;
  if (device < 0 || device >= static_cast<int>(D().visible.size())) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr pointer = 0;
  if (CUresult result = MapDeviceMemory(&pointer, parameters->bytesize, Physical(device));
      result != CUDA_SUCCESS) {
    return result;
  }
  parameters->dptr = pointer;
  auto* created = new GraphNode{0, pointer};
  reinterpret_cast<Graph*>(graph)->nodes.push_back(created);
  *node = reinterpret_cast<CUgraphNode>(created);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphInstantiate(CUgraphExec* exec, CUgraph graph, unsigned long long) {
  if (exec == nullptr || graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *exec = reinterpret_cast<CUgraphExec>(new GraphExec{reinterpret_cast<Graph*>(graph)});
  return CUDA_SUCCESS;
}
// CUDA 10's form, with an error node and a log (the fake never fails to
// instantiate, so both stay empty).
CUresult FakeGraphInstantiateV1(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node,
                                char* log, size_t log_bytes) {
  if (error_node != nullptr) *error_node = nullptr;
  if (log != nullptr && log_bytes > 0) log[0] = '\0';
  return cuGraphInstantiate(exec, graph, 0);
}

FAKE_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec* exec, CUgraph graph,
                                                  CUDA_GRAPH_INSTANTIATE_PARAMS* parameters) {
  if (parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuGraphInstantiate(exec, graph, parameters->flags);
  parameters->hErrNode_out = nullptr;
  parameters->result_out =
      result == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
  return result;
}
FAKE_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec* exec, CUgraph graph,
                                                       CUDA_GRAPH_INSTANTIATE_PARAMS* parameters) {
  return cuGraphInstantiateWithParams(exec, graph, parameters);
}

FAKE_EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
  delete reinterpret_cast<GraphExec*>(exec);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t duration = 0;
  for (GraphNode* node : reinterpret_cast<GraphExec*>(exec)->graph->nodes)
    duration += node->duration_ns;
  return LaunchOn(stream, std::max<uint64_t>(duration, 1000));
}
FAKE_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream) {
  return cuGraphLaunch(exec, stream);
}
