// SPDX-License-Identifier: MIT
#pragma once

#include <QAbstractTableModel>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>

#include <unordered_map>

namespace Mtw {

// A table of JSON objects from the admin API, one row per key (conn_id, channel name, module id),
// updated in place from deltas: inserts and removals signal only their own rows, updates emit
// dataChanged for the rows whose shown values changed. A key → row index keeps lookups O(1), so
// 10,000 connections updated every second stay cheap; a removal renumbers the rows after it
// through pointers into the index (no hashing). Lives in the GUI thread.
class JsonTableModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    // Endpoint: the column's key is an address; "remote_port" of the same row is added to it.
    enum class Format { Text, Number, Bytes, Time, List, Bool, Rate, Endpoint };
    struct Column
    {
        QString header;
        QString key;
        Format format = Format::Text;
    };
    enum Role {
        SortRole = Qt::UserRole + 1, // the raw value, so numbers sort as numbers
        KeyRole,                     // the row's key
    };

    JsonTableModel(const QString &keyField,
                   const QList<Column> &columns,
                   QObject *parent = nullptr);

    // Replaces every row (a snapshot, not a delta).
    void reset(const QJsonArray &rows);
    // Inserts a row or merges the fields into the existing one.
    void upsert(const QJsonObject &row);
    void upsertAll(const QJsonArray &rows);
    // Updates the rows that exist and ignores the others: a late update for a row already
    // removed must not bring it back.
    void updateExisting(const QJsonArray &rows);
    bool remove(const QString &key);
    void clear();

    int rowOf(const QString &key) const;
    QString keyAt(int row) const;
    QJsonObject object(const QString &key) const;
    QStringList keys() const;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    static QString formatBytes(qint64 bytes);
    // "192.0.2.1:51234", "[2001:db8::1]:51234", or the bare address when the port is not known
    static QString formatEndpoint(const QString &address, const QJsonValue &port);
    static QString formatTime(const QJsonValue &value);

protected:
    // Per-row colouring, e.g. failed modules in red. Default: none.
    virtual QVariant foreground(const QJsonObject &row, int column) const;

private:
    struct Row
    {
        QString key;
        QJsonObject json;
        QVariantList values; // one per column, converted once per update
        int *position;       // this row's entry in m_index (nodes of unordered_map are stable)
    };

    // Inserts (signalled at once) or updates a row; returns the updated row, or -1 when a
    // row was inserted or nothing shown changed.
    int merge(const QJsonObject &json, bool insert = true);
    void mergeAll(const QJsonArray &rows, bool insert);
    QVariantList valuesOf(const QJsonObject &json) const;
    QString display(const QVariant &value, Format format) const;

    QString m_keyField;
    QList<Column> m_columns;
    QList<Row> m_rows;
    std::unordered_map<QString, int> m_index;
};

// Columns of the connections view; key conn_id.
class ConnectionModel : public JsonTableModel
{
    Q_OBJECT
public:
    enum ColumnId { ConnId, Remote, User, Mode, Channels, In, Out, Queue, Since, Agent };
    explicit ConnectionModel(QObject *parent = nullptr);
};

// Columns of the channels view; key name. Settings that rarely matter (auth, binary) are in
// the detail pane only. Msg/s is the average over the last few seconds, from the `messages`
// totals sampled once a second (sampleRates()): the server's own per-second figure jumps with
// the phase of its one-second tick and stays at its last value when nothing is sent.
class ChannelModel : public JsonTableModel
{
    Q_OBJECT
public:
    enum ColumnId { Name, Members, Messages, Rate, History, Presence };
    explicit ChannelModel(QObject *parent = nullptr);

    // Records every channel's `messages` at `msecsSinceEpoch` and updates its average rate.
    void sampleRates(qint64 msecsSinceEpoch);
    static constexpr qint64 rateWindowMs = 5000;

private:
    struct Sample
    {
        qint64 time;
        double messages;
    };
    std::unordered_map<QString, QList<Sample>> m_rateSamples;
};

// Columns of the modules view; key id. Failed modules and unhealthy ones are coloured.
class ModuleModel : public JsonTableModel
{
    Q_OBJECT
public:
    explicit ModuleModel(QObject *parent = nullptr);

protected:
    QVariant foreground(const QJsonObject &row, int column) const override;
};

// Columns of the agents view; key name (the admin API's `agent` rows). Agents whose provider
// failed are coloured in the Errors column.
class AgentModel : public JsonTableModel
{
    Q_OBJECT
public:
    enum ColumnId { Name, Provider, Model, Channels, Running, Queued, TokensIn, TokensOut, Errors };
    explicit AgentModel(QObject *parent = nullptr);

protected:
    QVariant foreground(const QJsonObject &row, int column) const override;
};

} // namespace Mtw
