using System.Text.RegularExpressions;

namespace Notification.Service.Hosting;

/// <summary>
/// Where the servers are: RABBITMQ_URL (<c>amqp://user:password@host:port/vhost</c>), POSTGRES_CONNECTION,
/// and the PostgreSQL schema that holds this service's tables (<c>Notification:Schema</c>, default <c>notification</c>).
/// </summary>
public sealed partial record NotificationSettings
{
    public NotificationSettings(Uri rabbitMqUrl, string postgresConnection, string schemaName = "notification")
    {
        if (!SchemaPattern().IsMatch(schemaName))
        {
            throw new ArgumentException($"'{schemaName}' is not a plain lower-case PostgreSQL identifier.", nameof(schemaName));
        }
        RabbitMqUrl = rabbitMqUrl;
        PostgresConnection = postgresConnection;
        SchemaName = schemaName;
    }

    public Uri RabbitMqUrl { get; }
    public string PostgresConnection { get; }
    public string SchemaName { get; }

    /// <summary>Messages consumed at once (<c>Notification:Concurrency</c>, default 4 per core).</summary>
    public int Concurrency { get; init; } = Environment.ProcessorCount * 4;

    public static NotificationSettings FromConfiguration(IConfiguration configuration)
    {
        var rabbit = configuration["RABBITMQ_URL"]
            ?? throw new InvalidOperationException("RABBITMQ_URL is not set, e.g. amqp://seg:seg@127.0.0.1:5672/segmentation (run infra/start.sh)");
        var postgres = configuration["POSTGRES_CONNECTION"]
            ?? throw new InvalidOperationException("POSTGRES_CONNECTION is not set, e.g. Host=127.0.0.1;Username=seg;Password=seg;Database=segmentation (run infra/start.sh)");
        return new NotificationSettings(new Uri(rabbit), postgres, configuration["Notification:Schema"] ?? "notification")
        {
            Concurrency = configuration.GetValue("Notification:Concurrency", Environment.ProcessorCount * 4),
        };
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaPattern();
}
