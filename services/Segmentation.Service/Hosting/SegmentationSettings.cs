namespace Segmentation.Service.Hosting;

/// <summary>Where the servers are and how the service paces itself. See README, "Operating it".</summary>
public sealed record SegmentationSettings(Uri RabbitMqUrl, string PostgresConnection, string SchemaName = "segmentation")
{
    /// <summary>
    /// Messages handled at once per ingestion endpoint: the events that can wait in the batches being filled, so at
    /// least <see cref="Ingestion.IngestionOptions.Writers"/> × <see cref="Ingestion.IngestionOptions.BatchSize"/> to fill them.
    /// </summary>
    public int Concurrency { get; init; } = 256;

    /// <summary>Ruleset file activated at first start, when PostgreSQL holds no activated version yet.</summary>
    public string? RulesetPath { get; init; }

    public TimeSpan RulesetPollInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    public int SweepBatchSize { get; init; } = 200;

    /// <summary>How long customers a sweeper took stay its own: after a crash, others take them when it ends.</summary>
    public TimeSpan SweepLease { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the re-evaluation after an activation is measured (logged, the gauge, its rate).</summary>
    public TimeSpan ReevaluationProgressInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one conflict analysis (an upload, <c>POST /rulesets/conflicts</c>) may run; the pairs left are reported unknown.</summary>
    public TimeSpan ConflictAnalysisTimeLimit { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Pairs one conflict analysis may analyse (a work budget, the same on every machine); null: no limit but the time.</summary>
    public long? ConflictAnalysisMaxPairs { get; init; }

    /// <summary>Events the relay may be behind the log's last event before readiness (<c>/health/ready</c>) fails.</summary>
    public long RelayLagThreshold { get; init; } = 5_000;

    /// <summary>Whether this process publishes committed segment events (the relay runs on one instance at a time).</summary>
    public bool RunRelay { get; init; } = true;

    public static SegmentationSettings FromConfiguration(IConfiguration configuration)
    {
        var rabbit = configuration["RABBITMQ_URL"]
            ?? throw new InvalidOperationException("RABBITMQ_URL is not set, e.g. amqp://seg:seg@127.0.0.1:5672/segmentation (run infra/start.sh)");
        var postgres = configuration["POSTGRES_CONNECTION"]
            ?? throw new InvalidOperationException("POSTGRES_CONNECTION is not set, e.g. Host=127.0.0.1;Username=seg;Password=seg;Database=segmentation (run infra/start.sh)");
        var section = configuration.GetSection("Segmentation");
        var defaults = new SegmentationSettings(new Uri(rabbit), postgres);
        return defaults with
        {
            SchemaName = section["Schema"] ?? defaults.SchemaName,
            Concurrency = section.GetValue("Concurrency", defaults.Concurrency),
            RulesetPath = section["RulesetPath"],
            RulesetPollInterval = section.GetValue("RulesetPollInterval", defaults.RulesetPollInterval),
            SweepInterval = section.GetValue("SweepInterval", defaults.SweepInterval),
            SweepBatchSize = section.GetValue("SweepBatchSize", defaults.SweepBatchSize),
            SweepLease = section.GetValue("SweepLease", defaults.SweepLease),
            ReevaluationProgressInterval = section.GetValue("ReevaluationProgressInterval", defaults.ReevaluationProgressInterval),
            RunRelay = section.GetValue("RunRelay", defaults.RunRelay),
            RelayLagThreshold = section.GetValue("RelayLagThreshold", defaults.RelayLagThreshold),
            ConflictAnalysisTimeLimit = section.GetValue("ConflictAnalysisTimeLimit", defaults.ConflictAnalysisTimeLimit),
            ConflictAnalysisMaxPairs = section.GetValue<long?>("ConflictAnalysisMaxPairs"),
        };
    }
}
