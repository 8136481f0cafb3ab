namespace Segmentation.Service.Hosting;

/// <summary>Where the servers are. Read from RABBITMQ_URL and POSTGRES_CONNECTION (see infra/start.sh).</summary>
public sealed record SegmentationSettings(Uri RabbitMqUrl, string PostgresConnection, string SchemaName, int Concurrency)
{
    public static SegmentationSettings FromConfiguration(IConfiguration configuration)
    {
        var rabbit = configuration["RABBITMQ_URL"]
            ?? throw new InvalidOperationException("RABBITMQ_URL is not set, e.g. amqp://seg:seg@127.0.0.1:5672/segmentation (run infra/start.sh)");
        var postgres = configuration["POSTGRES_CONNECTION"]
            ?? throw new InvalidOperationException("POSTGRES_CONNECTION is not set, e.g. Host=127.0.0.1;Username=seg;Password=seg;Database=segmentation (run infra/start.sh)");
        return new SegmentationSettings(
            new Uri(rabbit),
            postgres,
            configuration["Segmentation:Schema"] ?? "segmentation",
            configuration.GetValue("Segmentation:Concurrency", Environment.ProcessorCount * 4));
    }
}
