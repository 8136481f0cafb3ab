using MassTransit;

namespace SegmentationEvents.ServiceDefaults;

/// <summary>An <c>amqp://user:password@host:port/vhost</c> URL split into MassTransit host settings.</summary>
public sealed record RabbitMqAddress(string Host, ushort Port, string VirtualHost, string Username, string Password)
{
    public const string DefaultUrl = "amqp://guest:guest@127.0.0.1:5672/";

    public static RabbitMqAddress Parse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "amqp" && uri.Scheme != "rabbitmq"))
        {
            throw new FormatException($"not an amqp:// URL: '{url}'");
        }

        var userInfo = uri.UserInfo.Split(':', 2);
        var username = userInfo[0].Length > 0 ? Uri.UnescapeDataString(userInfo[0]) : "guest";
        var password = userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : "guest";
        var path = uri.AbsolutePath.TrimStart('/');
        var virtualHost = path.Length > 0 ? Uri.UnescapeDataString(path) : "/";
        var port = uri.IsDefaultPort || uri.Port < 0 ? (ushort)5672 : (ushort)uri.Port;
        return new RabbitMqAddress(uri.Host, port, virtualHost, username, password);
    }

    /// <summary>The URL without the password, for logs.</summary>
    public override string ToString() =>
        $"amqp://{Username}@{Host}:{Port}/{(VirtualHost == "/" ? string.Empty : Uri.EscapeDataString(VirtualHost))}";
}

public static class RabbitMqHostExtensions
{
    /// <summary>Connects the bus to the broker named by an <c>amqp://user:password@host:port/vhost</c> URL.</summary>
    public static void Host(this IRabbitMqBusFactoryConfigurator bus, RabbitMqAddress address, string? connectionName = null)
    {
        void Credentials(IRabbitMqHostConfigurator host)
        {
            host.Username(address.Username);
            host.Password(address.Password);
        }

        if (connectionName is null) bus.Host(address.Host, address.Port, address.VirtualHost, Credentials);
        else bus.Host(address.Host, address.Port, address.VirtualHost, connectionName, Credentials);
    }

    public static void Host(this IRabbitMqBusFactoryConfigurator bus, Uri amqpUrl) =>
        bus.Host(RabbitMqAddress.Parse(amqpUrl.ToString()));
}
