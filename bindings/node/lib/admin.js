'use strict';
const native = require('./native');
const { Handle } = require('./handle');
const { toNative } = require('./options');

/** The admin client: topics, groups, offsets and the cluster. */
class Admin extends Handle {
  /** Connects to `bootstrapServers` or an `embedded` broker (`clientId`, `requestTimeoutMs`, ...). */
  static async connect(options) {
    const { embedded, pairs } = toNative(options);
    return new Admin(await native.connectAdmin(embedded, pairs));
  }

  /** Creates `[{ topic, numPartitions?, replicationFactor?, configs? }]`. */
  async createTopics(topics) {
    await this.native.createTopics(topics);
  }

  /** Creates one topic with `numPartitions` partitions. */
  async createTopic(topic, numPartitions = 1, configs = undefined) {
    await this.native.createTopics([{ topic, numPartitions, configs }]);
  }

  /** Deletes topics by name. */
  async deleteTopics(topics) {
    await this.native.deleteTopics(topics);
  }

  /** Every topic: `[{ name, id, partitions: [{ partition, leader, leaderEpoch }] }]`. */
  listTopics() {
    return this.native.listTopics();
  }

  /** One topic (rejects with KLOG_NOT_FOUND). */
  describeTopic(topic) {
    return this.native.describeTopic(topic);
  }

  /** Grows `topic` to `total` partitions. */
  async createPartitions(topic, total) {
    await this.native.createPartitions(topic, total);
  }

  /** Offsets of `{ topic, partition }`s: 'earliest', 'latest' or the first at a timestamp (ms). */
  listOffsets(partitions, spec = 'latest') {
    return this.native.listOffsets(partitions, String(spec));
  }

  /** The configs of `topic`: `[{ name, value, isDefault, readOnly }]`. */
  describeConfigs(topic) {
    return this.native.describeConfigs(topic);
  }

  /** Sets configs of `topic` (`{ name: value }`) and resets the `reset` ones to their defaults. */
  async alterConfigs(topic, set = {}, reset = []) {
    await this.native.alterConfigs(topic, set, reset);
  }

  /** Deletes the records of `{ topic, partition }` before `offset`; resolves to the new first offset. */
  deleteRecords(partition, offset) {
    return this.native.deleteRecords(partition, offset);
  }

  /** Group ids. */
  listGroups() {
    return this.native.listGroups();
  }

  /** A group's state and members. */
  describeGroup(group) {
    return this.native.describeGroup(group);
  }

  /** Deletes an empty group. */
  async deleteGroup(group) {
    await this.native.deleteGroup(group);
  }

  /** A group's `[{ topic, partition, committed, end, lag }]`. */
  groupOffsets(group) {
    return this.native.groupOffsets(group);
  }

  /** Sets `[{ topic, partition, offset }]` as the committed offsets of a group without active members. */
  async setGroupOffsets(group, offsets) {
    await this.native.setGroupOffsets(group, offsets);
  }

  /** `{ clusterId, controller, brokers: [{ id, address }] }`. */
  describeCluster() {
    return this.native.describeCluster();
  }
}

module.exports = { Admin };
